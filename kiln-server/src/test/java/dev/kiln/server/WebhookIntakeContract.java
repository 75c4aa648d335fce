package dev.kiln.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.server.github.GitHubProvider;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code POST /webhooks/github} on a real server (port 0) whose App is on the faithful fake GitHub: after the
 * signature holds, a delivery is read for what Kiln uses only, every verified delivery is stored, and the answer
 * is 2xx unless the body is not JSON (400, still stored). Run against SQLite and PostgreSQL.
 */
@Timeout(120)
abstract class WebhookIntakeContract {
    static final long APP_ID = 4343;
    static final String SECRET = "intake-webhook-secret";
    static final String ADMIN = "intake-admin-token-0123456789";
    static final KeyPair KEYS = AppKeys.generate();
    static final ObjectMapper JSON = new ObjectMapper();

    final TestingClock clock = new TestingClock();
    final HttpClient http = HttpClient.newHttpClient();
    FakeGitHub fake;
    KilnServer server;
    KilnClient client;
    String url;

    /** A JDBC URL of a new, empty database. */
    abstract String newDatabase();

    @BeforeEach
    void start() {
        url = newDatabase();
        fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), clock);
        fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("acme", "widgets");
        GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(), Secret.of(SECRET), fake.url(), fake.url());
        GitHubApp app = new GitHubApp(config, http, clock, clock::advance);
        server = KilnServer.start(ServerConfig.defaults(url, ADMIN).withListen("127.0.0.1", 0), clock, null,
                GitHubProvider.factories(GitHubSettings.defaults(app).withTick(Duration.ofMillis(50))));
        client = new KilnClient(server.uri(), ADMIN);
        fake.webhooks().sendTo(URI.create(server.uri() + "/webhooks/github"), SECRET);
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        fake.close();
    }

    HttpResponse<String> post(String event, String delivery, String contentType, byte[] body, String signature) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.uri() + "/webhooks/github"))
                .header("X-GitHub-Event", event).header("X-GitHub-Delivery", delivery).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (signature != null) {
            request.header("X-Hub-Signature-256", signature);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> signed(String event, String delivery, byte[] body) throws Exception {
        return post(event, delivery, "application/json", body, new WebhookVerifier(Secret.of(SECRET)).sign(body));
    }

    static ObjectNode queued(String label) throws Exception {
        return (ObjectNode) JSON.readTree(MalformedBodies.QUEUED.replace("kiln-2cpu-4gb", label));
    }

    List<JobView> demandsFor(long githubJob) {
        return client.jobs(null, 1000).stream().filter(j -> j.github() != null && j.github().jobId() == githubJob).toList();
    }

    /** The stored delivery's outcome, if it is stored (processed or not: "(unprocessed)"). */
    Optional<String> stored(String delivery) throws Exception {
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT outcome, processed_at FROM github_deliveries WHERE id = '" + delivery + "'")) {
            return r.next() ? Optional.of(r.getString(2) == null ? "(unprocessed)" : r.getString(1)) : Optional.empty();
        }
    }

    @Test
    void aFullNameThatDisagreesWithOwnerAndNameIsTakenAsOwnerLoginAndName() throws Exception {
        ObjectNode body = queued("kiln-4cpu-8gb");
        ((ObjectNode) body.get("repository")).put("full_name", "Octo-Org/Hello-World");

        HttpResponse<String> answer = signed("workflow_job", UUID.randomUUID().toString(), JSON.writeValueAsBytes(body));

        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.body()).contains("accepted");
        JobView demand = demandsFor(41000000123L).getFirst();
        assertThat(demand.github().repository()).isEqualTo("acme/widgets");
        assertThat(demand.cpus()).isEqualTo(4);
    }

    @Test
    void missingOptionalFieldsExtraFieldsAndOddTypesAreTolerated() throws Exception {
        ObjectNode body = queued("kiln-2cpu-4gb");
        ObjectNode job = (ObjectNode) body.get("workflow_job");
        job.remove(List.of("run_id", "run_attempt", "head_sha", "head_branch", "workflow_name", "name", "created_at",
                "started_at", "completed_at", "steps", "runner_id", "runner_name", "runner_group_id", "runner_group_name"));
        job.put("conclusion", 7);
        job.putObject("future_field").put("nested", true);
        body.remove(List.of("organization", "sender"));
        ((ObjectNode) body.get("repository")).remove(List.of("id", "full_name"));

        HttpResponse<String> answer = signed("workflow_job", UUID.randomUUID().toString(), JSON.writeValueAsBytes(body));

        assertThat(answer.statusCode()).isEqualTo(200);
        JobView demand = demandsFor(41000000123L).getFirst();
        assertThat(demand.github().repository()).isEqualTo("acme/widgets");
        assertThat(demand.github().labels()).containsExactly("kiln-2cpu-4gb");
    }

    @Test
    void aFormEncodedDeliveryIsTakenLikeAJsonOne() {
        fake.webhooks().formEncoded(true);

        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle() && demandsFor(job).size() == 1);
        assertThat(fake.webhooks().deliveries()).extracting(d -> d.status()).containsOnly(200);
    }

    @Test
    void aBodyThatIsNotJsonIs400WithTheReasonAndIsStillStored() throws Exception {
        String delivery = UUID.randomUUID().toString();
        HttpResponse<String> answer = signed("workflow_job", delivery, "{not json".getBytes(UTF_8));
        assertThat(answer.statusCode()).isEqualTo(400);
        assertThat(answer.body()).contains("is not JSON (line 1, column 2)").contains("the delivery is stored");
        assertThat(stored(delivery)).hasValueSatisfying(outcome -> assertThat(outcome).startsWith("refused:"));

        String binary = UUID.randomUUID().toString();
        assertThat(signed("workflow_job", binary, new byte[] {(byte) 0xff, 0, (byte) 0xc3}).statusCode()).isEqualTo(400);
        assertThat(stored(binary)).isPresent();

        String form = UUID.randomUUID().toString();
        byte[] noPayload = "other=1".getBytes(UTF_8);
        assertThat(post("workflow_job", form, "application/x-www-form-urlencoded", noPayload,
                new WebhookVerifier(Secret.of(SECRET)).sign(noPayload)).body()).contains("no payload field");
        assertThat(stored(form)).isPresent();

        String unsigned = UUID.randomUUID().toString();
        assertThat(post("workflow_job", unsigned, "application/json", "{}".getBytes(UTF_8), null).statusCode()).isEqualTo(401);
        assertThat(stored(unsigned)).isEmpty();
    }

    @Test
    void jsonWithoutWhatKilnNeedsIs202AndStoredWithTheReason() throws Exception {
        String delivery = UUID.randomUUID().toString();
        HttpResponse<String> answer = signed("workflow_job", delivery, "{\"action\": \"queued\", \"workflow_job\": {}}".getBytes(UTF_8));
        assertThat(answer.statusCode()).isEqualTo(202);
        assertThat(answer.body()).contains("workflow_job.id is missing");
        assertThat(stored(delivery)).hasValueSatisfying(outcome -> assertThat(outcome).contains("workflow_job.id is missing"));
    }

    @Test
    void aFormEncodedPayloadIsReadAfterTheSignatureOverTheFormIsChecked() throws Exception {
        String json = MalformedBodies.QUEUED.replace("kiln-2cpu-4gb", "kiln-4cpu-8gb");
        byte[] form = ("payload=" + URLEncoder.encode(json, UTF_8)).getBytes(UTF_8);
        byte[] wrong = ("payload=" + URLEncoder.encode(json.replace("acme", "evil"), UTF_8)).getBytes(UTF_8);

        assertThat(post("workflow_job", UUID.randomUUID().toString(), "application/x-www-form-urlencoded", wrong,
                new WebhookVerifier(Secret.of(SECRET)).sign(form)).statusCode()).isEqualTo(401);
        assertThat(post("workflow_job", UUID.randomUUID().toString(), "application/x-www-form-urlencoded", form,
                new WebhookVerifier(Secret.of(SECRET)).sign(form)).statusCode()).isEqualTo(200);
        assertThat(demandsFor(41000000123L)).hasSize(1);
    }

    @Test
    void aPingFromKilnsAppGetsPongAndAPingFromAnotherHookIs403NamingBothIds() throws Exception {
        fake.ping();
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle() && !fake.webhooks().deliveries().isEmpty());
        assertThat(fake.webhooks().deliveries().getLast().status()).isEqualTo(200);

        HttpResponse<String> other = signed("ping", UUID.randomUUID().toString(), MalformedBodies.PING.getBytes(UTF_8));
        assertThat(other.statusCode()).isEqualTo(403);
        assertThat(other.body()).contains("PERMISSION_DENIED").contains("hook 450001 of App 12345").contains("Kiln serves App " + APP_ID);

        HttpResponse<String> repositoryHook = signed("ping", UUID.randomUUID().toString(),
                "{\"zen\": \"z\", \"hook_id\": 9, \"hook\": {\"type\": \"Repository\", \"id\": 9}}".getBytes(UTF_8));
        assertThat(repositoryHook.statusCode()).isEqualTo(403);
        assertThat(repositoryHook.body()).contains("not a GitHub App's hook");
    }
}
