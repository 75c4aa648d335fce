package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * `kiln run`'s flags reach the job it asks a server for, and their defaults are the documented
 * ones. The server here records the request and refuses it, so nothing runs.
 */
class RunFlagsTest {
    private HttpServer server;
    private final AtomicReference<String> submitted = new AtomicReference<>();

    @BeforeEach
    void startServer() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/api/v1/jobs", exchange -> {
            submitted.set(new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            byte[] body = "{\"code\":\"UNAVAILABLE\",\"message\":\"recorded, not run\"}".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(503, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
    }

    @AfterEach
    void stopServer() {
        server.stop(0);
    }

    private JsonNode submit(String... flags) throws IOException {
        String[] args = new String[flags.length + 5];
        args[0] = "run";
        args[1] = "--server";
        args[2] = "http://127.0.0.1:" + server.getAddress().getPort();
        args[3] = "--token";
        args[4] = "admin-token-for-this-test";
        System.arraycopy(flags, 0, args, 5, flags.length);
        StringWriter err = new StringWriter();
        int code = Kiln.execute(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), args);
        assertThat(code).as(err.toString()).isEqualTo(ExitCodes.SERVER);
        assertThat(err.toString()).contains("recorded, not run");
        assertThat(submitted.get()).as("the job request").isNotNull();
        return new ObjectMapper().readTree(submitted.get());
    }

    @Test
    void everyFlagReachesTheJob() throws IOException {
        JsonNode job = submit("--cpus", "2", "--memory", "768m", "--disk", "20g", "--timeout", "1h30m",
                "--image", "runner", "-e", "A=1", "--env", "B=x=y", "--", "sh", "-c", "echo $A");

        assertThat(job.get("cpus").asInt()).isEqualTo(2);
        assertThat(job.get("memoryMib").asLong()).isEqualTo(768);
        assertThat(job.get("diskGib").asInt()).isEqualTo(20);
        assertThat(job.get("timeoutSeconds").asLong()).isEqualTo(5400);
        assertThat(job.get("image").asText()).isEqualTo("runner");
        assertThat(job.get("env").get("A").asText()).isEqualTo("1");
        assertThat(job.get("env").get("B").asText()).isEqualTo("x=y");
        assertThat(job.get("command").toString()).isEqualTo("[\"sh\",\"-c\",\"echo $A\"]");
    }

    @Test
    void leftOutFlagsTakeTheirDefaults() throws IOException {
        JsonNode job = submit("--", "true");

        assertThat(job.get("cpus").asInt()).isEqualTo(1);
        assertThat(job.get("memoryMib").asLong()).isEqualTo(1024);
        assertThat(job.get("diskGib").asInt()).isEqualTo(10);
        assertThat(job.get("timeoutSeconds").asLong()).isEqualTo(600);
        assertThat(job.get("image").asText()).isEqualTo("default");
        assertThat(job.get("env").size()).isZero();
        assertThat(job.get("command").toString()).isEqualTo("[\"true\"]");
    }
}
