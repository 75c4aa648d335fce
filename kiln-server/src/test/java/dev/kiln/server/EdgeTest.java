package dev.kiln.server;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.server.github.GitHubProvider;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's edge against peers without credentials, over raw loopback sockets: requests whose headers
 * or body never finish are cut off, connections are capped, unverified webhook bodies hold memory only
 * for the bytes that came (within a shared budget) and an unsigned one is refused before it is read;
 * meanwhile normal requests answer.
 */
@Timeout(120)
class EdgeTest {
    static final String ADMIN = "edge-admin-token-0123456789";
    static final String SECRET = "edge-webhook-secret";
    static final long APP_ID = 4242;
    /**
     * Read first, before the fake GitHub makes this JVM's first HttpServer: reading it sets the JDK
     * properties Kiln's server runs with (see {@link HttpServers}), which the JDK reads only once.
     */
    static final int LIMIT = HttpServers.requestSeconds();

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock(Instant.now());
    final KeyPair keys = AppKeys.generate();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, keys.getPublic(), clock);
    final WebhookVerifier signer = new WebhookVerifier(Secret.of(SECRET));
    KilnServer server;

    @BeforeEach
    void start() {
        GitHubApp app = new GitHubApp(GitHubConfig.of(APP_ID, (RSAPrivateKey) keys.getPrivate(), Secret.of(SECRET),
                fake.url(), fake.url()), HttpClient.newHttpClient(), clock, clock::advance);
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0), clock, null, GitHubProvider.factories(GitHubSettings.defaults(app)));
    }

    @AfterEach
    void stop() {
        server.close();
        fake.close();
    }

    @Test
    void requestsWhoseHeadersOrBodyNeverFinishAreCutOffWhileNormalRequestsAnswer() throws Exception {
        List<Slow> slow = List.of(
                new Slow("silent", ""),
                new Slow("slow headers", "GET /api/v1/health HTTP/1.1\r\nHost: kiln\r\nX-Slow: "),
                new Slow("slow API body", "POST /api/v1/agent/enrol HTTP/1.1\r\nHost: kiln\r\nContent-Length: 1000\r\n\r\n{"),
                new Slow("slow webhook body", webhookHead(WebhookVerifier.DEFAULT_MAX_BODY_BYTES, "sha256=" + "0".repeat(64))
                        + "{"));
        Instant opened = Instant.now();
        List<Duration> normal = new ArrayList<>();
        int limit = LIMIT;
        // Each keeps sending a byte a second (the silent one nothing), so no idle timeout ends them: only
        // the bound on the time to receive a request does.
        await().atMost(Duration.ofSeconds(limit + 5)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            slow.forEach(Slow::drip);
            long started = System.nanoTime();
            assertThat(status("GET", "/api/v1/health")).isEqualTo(200);
            normal.add(Duration.ofNanos(System.nanoTime() - started));
            return slow.stream().allMatch(Slow::closed);
        });
        for (Slow s : slow) {
            assertThat(Duration.between(opened, s.closedAt.get())).as(s.name + " was cut off after the request limit")
                    .isGreaterThanOrEqualTo(Duration.ofSeconds(limit - 1));
            s.close();
        }
        assertThat(normal).as("normal requests answered while the slow ones were open").hasSizeGreaterThan(limit - 2);
        assertThat(status("GET", "/api/v1/health")).isEqualTo(200);
    }

    @Test
    void connectionsBeyondTheCapAreClosedAtOnceAndTheServerAnswersOnceTheyGo() throws Exception {
        int cap = HttpServers.maxConnections();
        List<Socket> held = new ArrayList<>();
        try {
            for (int i = 0; i < cap; i++) {
                held.add(new Socket(InetAddress.getLoopbackAddress(), server.port()));
            }
            await().atMost(Duration.ofSeconds(15)).until(() -> {
                try (Socket probe = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
                    probe.setSoTimeout(1000);
                    return probe.getInputStream().read() == -1;
                } catch (SocketException reset) {
                    return true;
                } catch (SocketTimeoutException stillOpen) {
                    return false;
                }
            });
        } finally {
            for (Socket socket : held) {
                socket.close();
            }
        }
        await().atMost(Duration.ofSeconds(15)).ignoreExceptions().until(() -> status("GET", "/api/v1/health") == 200);
    }

    @Test
    void anUnsignedWebhookIsRefusedBeforeItsBodyIsRead() throws Exception {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
            socket.setSoTimeout(5000);
            // Headers promise 5 MB; not a byte of the body is sent, and the answer comes anyway.
            socket.getOutputStream().write(webhookHead(5_000_000, null).getBytes(US_ASCII));
            socket.getOutputStream().flush();
            String answer = new String(socket.getInputStream().readNBytes(12), US_ASCII);
            assertThat(answer).isEqualTo("HTTP/1.1 401");
        }
        HttpResponse<String> get = send(HttpRequest.newBuilder(URI.create(server.uri() + "/webhooks/github")).GET());
        assertThat(get.statusCode()).isEqualTo(405);
        assertThat(get.headers().firstValue("Allow")).hasValue("POST");
    }

    /**
     * A client that writes its whole body before it reads (as most do) must get the 413: were the connection
     * closed with megabytes unread, the kernel would reset it and the answer would be lost (the write fails,
     * or the read finds no bytes).
     */
    @Test
    void aTooLargeBodySentInFullGetsIts413ForWebhooksAndTheApi() throws Exception {
        int size = WebhookVerifier.DEFAULT_MAX_BODY_BYTES + (3 << 20);
        byte[] body = new byte[size];
        java.util.Arrays.fill(body, (byte) 'x');
        for (int round = 0; round < 3; round++) {
            assertThat(sendWhole(webhookHead(size, signer.sign(body)), body)).startsWith("HTTP/1.1 413");
            assertThat(sendWhole("POST /api/v1/jobs HTTP/1.1\r\nHost: kiln\r\nAuthorization: Bearer " + ADMIN
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + size + "\r\n\r\n", body))
                    .startsWith("HTTP/1.1 413");
        }
        assertThat(status("GET", "/api/v1/health")).isEqualTo(200);
    }

    private String sendWhole(String head, byte[] body) throws IOException {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
            socket.setSoTimeout(20_000);
            OutputStream out = socket.getOutputStream();
            out.write(head.getBytes(US_ASCII));
            out.write(body);
            out.flush();
            return new String(socket.getInputStream().readNBytes(12), US_ASCII);
        }
    }

    @Test
    void unverifiedWebhookBodiesHoldMemoryForTheBytesThatCameWhileASignedDeliveryIsTaken() throws Exception {
        int bodies = 10;
        int sent = 1_000_000;
        List<Socket> slow = new ArrayList<>();
        try {
            for (int i = 0; i < bodies; i++) {
                Socket socket = new Socket(InetAddress.getLoopbackAddress(), server.port());
                slow.add(socket);
                OutputStream out = socket.getOutputStream();
                out.write(webhookHead(5_000_000, "sha256=" + "0".repeat(64)).getBytes(US_ASCII));
                out.write(new byte[sent]);
                out.flush();
            }
            // Each body holds the chunks its bytes filled beyond the free allowance, not the 5 MB it declared.
            long chunk = 16 * 1024;
            long perBody = ((sent + chunk - 1) / chunk) * chunk - WebhookVerifier.FREE_BYTES;
            await().atMost(Duration.ofSeconds(10)).until(() -> server.unverifiedWebhookBytes() == bodies * perBody);

            byte[] body = "{\"action\":\"created\",\"starred_at\":null}".getBytes(UTF_8);
            HttpResponse<String> signed = send(HttpRequest.newBuilder(URI.create(server.uri() + "/webhooks/github"))
                    .header("X-GitHub-Event", "star").header("X-GitHub-Delivery", "edge-1")
                    .header("X-Hub-Signature-256", signer.sign(body)).POST(HttpRequest.BodyPublishers.ofByteArray(body)));
            assertThat(signed.statusCode()).as(signed.body()).isBetween(200, 299);
            assertThat(server.unverifiedWebhookBytes()).isEqualTo(bodies * perBody);
        } finally {
            for (Socket socket : slow) {
                socket.close();
            }
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> server.unverifiedWebhookBytes() == 0);
    }

    @Test
    void aFullBudgetAnswers503AfterItsWaitAndFreedBytesAreTakenAgain() {
        DeliveryMemory memory = new DeliveryMemory(32 * 1024, Duration.ofMillis(200));
        memory.reserve(16 * 1024);
        memory.reserve(16 * 1024);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> memory.reserve(16 * 1024))
                .isInstanceOfSatisfying(dev.kiln.github.WebhookException.class, e -> assertThat(e.httpStatus()).isEqualTo(503))
                .hasMessageContaining("32 KiB of unverified webhook bodies").hasMessageContaining("within 0 s");
        memory.release(16 * 1024);
        memory.reserve(16 * 1024);
        assertThat(memory.held()).isEqualTo(32 * 1024);
    }

    private static String webhookHead(long length, String signature) {
        return "POST /webhooks/github HTTP/1.1\r\nHost: kiln\r\nContent-Type: application/json\r\nX-GitHub-Event: star\r\n"
                + "X-GitHub-Delivery: slow\r\n" + (signature == null ? "" : "X-Hub-Signature-256: " + signature + "\r\n")
                + "Content-Length: " + length + "\r\n\r\n";
    }

    private int status(String method, String path) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(server.uri() + path)).method(method,
                HttpRequest.BodyPublishers.noBody())).statusCode();
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(request.timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
        }
    }

    /** A connection that sends its start, then a byte at each drip, and notes when the server closed it. */
    private final class Slow implements AutoCloseable {
        final String name;
        final Socket socket;
        final AtomicReference<Instant> closedAt = new AtomicReference<>();

        Slow(String name, String start) throws IOException {
            this.name = name;
            this.socket = new Socket(InetAddress.getLoopbackAddress(), server.port());
            if (!start.isEmpty()) {
                socket.getOutputStream().write(start.getBytes(US_ASCII));
                socket.getOutputStream().flush();
            }
            Thread.ofVirtual().name("edge-reader-" + name).start(() -> {
                try (InputStream in = socket.getInputStream()) {
                    while (in.read() >= 0) {
                        // Nothing is expected; read until the server closes.
                    }
                } catch (IOException closed) {
                    // Reset by the server, or closed by the test.
                }
                closedAt.compareAndSet(null, Instant.now());
            });
        }

        void drip() {
            if (name.equals("silent") || closed()) {
                return;
            }
            try {
                socket.getOutputStream().write('x');
                socket.getOutputStream().flush();
            } catch (IOException e) {
                closedAt.compareAndSet(null, Instant.now());
            }
        }

        boolean closed() {
            return closedAt.get() != null;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
