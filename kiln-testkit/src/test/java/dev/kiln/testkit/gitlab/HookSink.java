package dev.kiln.testkit.gitlab;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/** A receiver for the fake's hooks on a loopback port: keeps what arrives and answers a chosen status. */
final class HookSink implements AutoCloseable {
    record Received(Headers headers, String body) {}

    private final HttpServer server;
    private final List<Received> received = new ArrayList<>();
    private volatile int status = 200;

    HookSink() {
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        server.createContext("/", exchange -> {
            try (exchange) {
                String body = new String(exchange.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                synchronized (received) {
                    received.add(new Received(exchange.getRequestHeaders(), body));
                }
                exchange.sendResponseHeaders(status, -1);
            }
        });
        server.start();
    }

    URI uri() {
        return URI.create("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getAddress().getPort() + "/hook");
    }

    void answer(int status) {
        this.status = status;
    }

    List<Received> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
