package dev.kiln.github;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A webhook endpoint for tests, on a loopback port: it checks each delivery with {@link WebhookVerifier} and
 * parses it with {@link WebhookEvents}, as the server will, answering 2xx or the refusal's status.
 */
final class WebhookSink implements AutoCloseable {
    private final HttpServer server;
    private final BlockingQueue<WebhookEvent> events = new LinkedBlockingQueue<>();
    private final BlockingQueue<Integer> refusals = new LinkedBlockingQueue<>();

    WebhookSink(WebhookVerifier verifier) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/webhooks/github", exchange -> {
            try (exchange) {
                int status = 202;
                try {
                    long length = exchange.getRequestHeaders().getFirst("Content-Length") == null ? -1
                            : Long.parseLong(exchange.getRequestHeaders().getFirst("Content-Length"));
                    byte[] body = verifier.readVerified(exchange.getRequestBody(), length,
                            exchange.getRequestHeaders().getFirst("X-Hub-Signature-256"), BodyMemory.UNBOUNDED);
                    events.add(WebhookEvents.parse(exchange.getRequestHeaders().getFirst("X-GitHub-Event"),
                            exchange.getRequestHeaders().getFirst("X-GitHub-Delivery"), body));
                } catch (WebhookException e) {
                    status = e.httpStatus();
                    refusals.add(status);
                }
                exchange.sendResponseHeaders(status, -1);
            }
        });
        server.start();
    }

    URI url() {
        return URI.create("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getAddress().getPort() + "/webhooks/github");
    }

    /** The next event delivered; fails naming what was awaited if none comes within a minute. */
    WebhookEvent next(String awaited) throws InterruptedException {
        WebhookEvent event = events.poll(60, TimeUnit.SECONDS);
        if (event == null) {
            throw new AssertionError("no webhook delivery (" + awaited + ") arrived within 60 s");
        }
        return event;
    }

    WorkflowJobEvent nextJob(String awaited) throws InterruptedException {
        return (WorkflowJobEvent) next(awaited);
    }

    /** Events already received, without waiting. */
    java.util.List<WebhookEvent> drain() {
        java.util.List<WebhookEvent> all = new java.util.ArrayList<>();
        events.drainTo(all);
        return all;
    }

    Integer nextRefusal() throws InterruptedException {
        return refusals.poll(60, TimeUnit.SECONDS);
    }

    static Duration timeout() {
        return Duration.ofSeconds(60);
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
