package dev.kiln.server.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GitHub's intake on a real server (SQLite, port 0) against the faithful fake GitHub, no host needed: signatures,
 * bounds and malformed bodies, the documented examples, duplicated deliveries, and a dropped webhook caught by the
 * reconciler when the server's clock passes its interval. (Runs that need agents are kiln-agent's GitHubFleetTest.)
 */
@Timeout(120)
class GitHubIntakeTest {
    static final long APP_ID = 4242;
    static final String SECRET = "webhook-secret-for-fleet-tests";
    static final String ADMIN = "github-intake-admin-token-0123456789";
    static final KeyPair KEYS = AppKeys.generate();

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), clock);
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
    final HttpClient http = HttpClient.newHttpClient();
    KilnServer server;
    KilnClient client;

    @BeforeEach
    void start() {
        fake.addRepository("acme", "widgets");
        GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(), Secret.of(SECRET), fake.url(),
                fake.url());
        GitHubApp app = new GitHubApp(config, http, clock, clock::advance);
        // The provider's loop wakes every 50 ms to look at the test's clock, which alone decides what is due.
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0), clock, null,
                GitHubProvider.factories(GitHubSettings.defaults(app).withTick(Duration.ofMillis(50))));
        client = new KilnClient(server.uri(), ADMIN);
        fake.webhooks().sendTo(webhooks(), SECRET);
    }

    @AfterEach
    void close() {
        if (server != null) {
            server.close();
        }
        fake.close();
    }

    URI webhooks() {
        return URI.create(server.uri() + "/webhooks/github");
    }

    HttpResponse<String> post(String event, String delivery, String body, String signature) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(webhooks()).header("X-GitHub-Event", event)
                .header("X-GitHub-Delivery", delivery).POST(HttpRequest.BodyPublishers.ofString(body));
        if (signature != null) {
            request.header("X-Hub-Signature-256", signature);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> signed(String event, String delivery, String body) throws Exception {
        return post(event, delivery, body, new WebhookVerifier(Secret.of(SECRET)).sign(body.getBytes(UTF_8)));
    }

    List<JobView> demandsFor(long githubJob) {
        return client.jobs(null, 1000).stream().filter(j -> j.github() != null && j.github().jobId() == githubJob).toList();
    }

    @Test
    void aBadSignatureIs401AndStoresNothingNotJsonIs400TooLargeIs413() throws Exception {
                String body = QUEUED_EXAMPLE.replace("mvm-4cpu", "kiln-4cpu-8gb");
        String delivery = UUID.randomUUID().toString();

        HttpResponse<String> forged = post("workflow_job", delivery, body, new WebhookVerifier(Secret.of("not-the-secret"))
                .sign(body.getBytes(UTF_8)));
        assertThat(forged.statusCode()).isEqualTo(401);
        assertThat(forged.body()).contains("UNAUTHENTICATED").doesNotContain(SECRET);
        assertThat(post("workflow_job", delivery, body, null).statusCode()).isEqualTo(401);
        assertThat(client.jobs(null, 100)).isEmpty();
        // Nothing was stored: the same delivery id, signed right, is new.
        HttpResponse<String> real = signed("workflow_job", delivery, body);
        assertThat(real.statusCode()).isEqualTo(200);
        assertThat(real.body()).contains("accepted");

        assertThat(signed("workflow_job", UUID.randomUUID().toString(), "{not json").statusCode()).isEqualTo(400);
        // JSON without what Kiln needs is stored and acknowledged: GitHub never redelivers.
        assertThat(signed("workflow_job", UUID.randomUUID().toString(), "{\"action\": \"queued\"}").statusCode()).isEqualTo(202);
        // The fake GitHub's HttpServer came first in this JVM, yet the JDK runs with Kiln's settings
        // (kiln-testkit's KilnHttpSettingsFirst): without its lingering close the 413 is lost to a reset.
        assertThat(System.getProperty("sun.net.httpserver.drainAmount")).isEqualTo(String.valueOf(64L << 20));
        String huge = "{\"pad\": \"" + "x".repeat(WebhookVerifier.DEFAULT_MAX_BODY_BYTES) + "\"}";
        assertThat(signed("ping", UUID.randomUUID().toString(), huge).statusCode()).isEqualTo(413);
        assertThat(client.jobs(null, 100)).hasSize(1);
    }

    @Test
    void theDocumentedExamplesParsePingIsAnsweredOtherEventsAndForeignLabelsAreIgnored() throws Exception {
                HttpResponse<String> foreign = signed("workflow_job", UUID.randomUUID().toString(), QUEUED_EXAMPLE);
        assertThat(foreign.statusCode()).isEqualTo(200);
        assertThat(foreign.body()).contains("ignored").contains("not Kiln's");
        HttpResponse<String> ours = signed("workflow_job", UUID.randomUUID().toString(),
                QUEUED_EXAMPLE.replace("mvm-4cpu", "kiln-4cpu-8gb"));
        assertThat(ours.statusCode()).isEqualTo(200);
        HttpResponse<String> cancelled = signed("workflow_job", UUID.randomUUID().toString(), CANCELLED_EXAMPLE);
        assertThat(cancelled.statusCode()).isEqualTo(200);
        assertThat(signed("installation", UUID.randomUUID().toString(), "{\"action\": \"created\"}").statusCode()).isEqualTo(202);
        fake.ping();
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().deliveries().stream()
                .anyMatch(d -> d.event().equals("ping") && d.status() == 200));

        JobView demand = demandsFor(41000000123L).getFirst();
        assertThat(demand.kind()).isEqualTo("github");
        assertThat(demand.cpus()).isEqualTo(4);
        assertThat(demand.memoryMib()).isEqualTo(8 * 1024);
        assertThat(demand.github().repository()).isEqualTo("acme/widgets");
        assertThat(demand.github().workflow()).isEqualTo("ci");
        assertThat(demand.github().jobName()).isEqualTo("build (linux)");
        assertThat(demand.github().installationId()).isEqualTo(55501L);
        assertThat(client.job(demand.id()).state()).as("cancelled before a runner took it: released")
                .isEqualTo(JobState.CANCELLED);
    }

    @Test
    void duplicateDeliveriesMakeOneDemand() throws Exception {
                fake.webhooks().duplicateNext(1);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle() && fake.webhooks().deliveries().size() == 2);
        String guid = fake.webhooks().deliveries().getFirst().guid();
        fake.webhooks().redeliver(guid);
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle() && fake.webhooks().deliveries().size() == 3);

        assertThat(fake.webhooks().deliveries()).extracting(d -> d.status()).containsOnly(200);
        assertThat(demandsFor(job)).hasSize(1);
    }

    @Test
    void aDroppedWebhookIsCaughtByTheReconciler() {
                fake.webhooks().dropNext(1);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln"), "true");
        assertThat(demandsFor(job)).isEmpty();

        clock.advance(Duration.ofMinutes(3));

        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1);
        JobView demand = demandsFor(job).getFirst();
        assertThat(demand.state()).isEqualTo(JobState.QUEUED);
        assertThat(demand.github().labels()).containsExactly("kiln");
    }

    /** ci-protocols.md §1.2, the queued example as documented. */
    static final String QUEUED_EXAMPLE = """
            {
              "action": "queued",
              "workflow_job": {
                "id": 41000000123,
                "run_id": 15000000456,
                "run_attempt": 1,
                "run_url": "https://api.github.com/repos/acme/widgets/actions/runs/15000000456",
                "node_id": "CR_kwDOAAAAAA8AAAAJj5bLew",
                "head_sha": "9f2c3a71d0b4c2e8a1f6b3d5c7e9a0b1c2d3e4f5",
                "head_branch": "main",
                "workflow_name": "ci",
                "name": "build (linux)",
                "url": "https://api.github.com/repos/acme/widgets/actions/jobs/41000000123",
                "html_url": "https://github.com/acme/widgets/actions/runs/15000000456/job/41000000123",
                "check_run_url": "https://api.github.com/repos/acme/widgets/check-runs/41000000123",
                "status": "queued",
                "conclusion": null,
                "created_at": "2026-09-01T10:00:00Z",
                "started_at": "2026-09-01T10:00:00Z",
                "completed_at": null,
                "labels": ["self-hosted", "linux", "x64", "mvm-4cpu"],
                "runner_id": null,
                "runner_name": null,
                "runner_group_id": null,
                "runner_group_name": null,
                "steps": []
              },
              "repository": {"id": 700001, "node_id": "R_kgDOAAq", "name": "widgets", "full_name": "acme/widgets",
                             "private": true, "owner": {"login": "acme", "id": 9001, "type": "Organization"}},
              "organization": {"login": "acme", "id": 9001, "node_id": "O_kgDOAAAjKQ", "url": "https://api.github.com/orgs/acme"},
              "installation": {"id": 55501, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNTU1MDE="},
              "sender": {"login": "dev1", "id": 42, "type": "User"}
            }
            """;

    /** ci-protocols.md §1.2, cancelled before pickup: the documented delta over the queued example, with Kiln's label. */
    static final String CANCELLED_EXAMPLE = QUEUED_EXAMPLE.replace("mvm-4cpu", "kiln-4cpu-8gb")
            .replace("\"action\": \"queued\"", "\"action\": \"completed\"")
            .replace("\"status\": \"queued\"", "\"status\": \"completed\"")
            .replace("\"conclusion\": null", "\"conclusion\": \"cancelled\"")
            .replace("\"completed_at\": null", "\"completed_at\": \"2026-09-01T10:03:12Z\"");
}
