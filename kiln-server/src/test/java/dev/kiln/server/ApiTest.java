package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The HTTP API over a real server on port 0 with the real client: tokens, errors, validation. */
class ApiTest {
    static final String ADMIN = "admin-token-for-tests-0123456789";

    @TempDir
    Path dir;
    KilnServer server;
    KilnClient client;

    @BeforeEach
    void start() {
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0),
                InstantSource.system());
        client = new KilnClient(server.uri(), ADMIN);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void theAdminApiNeedsTheAdminToken() {
        assertThatThrownBy(() -> new KilnClient(server.uri(), null).jobs(null, 10))
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED);
                    assertThat(e.getMessage()).contains("needs the admin token");
                });
        assertThatThrownBy(() -> new KilnClient(server.uri(), "wrong-token-wrong-token").hosts())
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED);
                    assertThat(e.getMessage()).contains("admin token is wrong");
                });
    }

    @Test
    void errorsAreOneShapeWithTheRightStatus() throws Exception {
        HttpResponse<String> missing = raw("GET", "/api/v1/jobs/j-nothere", null, ADMIN);
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(missing.body()).contains("\"code\":\"NOT_FOUND\"").contains("no job j-nothere");

        HttpResponse<String> malformed = raw("POST", "/api/v1/jobs", "{\"command\": [\"x\"", ADMIN);
        assertThat(malformed.statusCode()).isEqualTo(400);
        assertThat(malformed.body()).contains("\"code\":\"INVALID_ARGUMENT\"");

        HttpResponse<String> unknownField = raw("POST", "/api/v1/jobs", "{\"command\": [\"x\"], \"cpu\": 2}", ADMIN);
        assertThat(unknownField.statusCode()).isEqualTo(400);
        assertThat(unknownField.body()).contains("cpu");

        HttpResponse<String> huge = raw("POST", "/api/v1/jobs", "{\"command\": [\"" + "x".repeat(2 << 20) + "\"]}", ADMIN);
        assertThat(huge.statusCode()).isEqualTo(413);
        assertThat(huge.body()).contains("at most 1048576 are allowed here");

        HttpResponse<String> noRoute = raw("GET", "/api/v1/nothing", null, ADMIN);
        assertThat(noRoute.statusCode()).isEqualTo(404);
        assertThat(client.jobs(null, 10)).isEmpty();
    }

    @Test
    void aWrongMethodOnAKnownPathIs405WithAllow() throws Exception {
        record Case(String method, String path, String allow) {}
        for (Case c : List.of(new Case("PUT", "/api/v1/jobs", "GET, POST"), new Case("DELETE", "/api/v1/jobs/j-1", "GET"),
                new Case("GET", "/api/v1/jobs/j-1/cancel", "POST"), new Case("PATCH", "/api/v1/hosts", "GET, POST"),
                new Case("PUT", "/api/v1/hosts/h1", "GET, DELETE"), new Case("GET", "/api/v1/agent/sync", "POST"),
                new Case("POST", "/api/v1/vms", "GET"), new Case("DELETE", "/api/v1/health", "GET"))) {
            for (String token : java.util.Arrays.asList(ADMIN, null)) {
                HttpResponse<String> answer = raw(c.method(), c.path(), "{}", token);
                assertThat(answer.statusCode()).as(c + " with token " + (token != null)).isEqualTo(405);
                assertThat(answer.headers().firstValue("Allow")).as(c.toString()).hasValue(c.allow());
                assertThat(answer.body()).contains("\"code\":\"INVALID_ARGUMENT\"")
                        .contains(c.path() + " answers " + c.allow() + ", not " + c.method());
            }
        }
        assertThat(raw("PUT", "/api/v1/nothing", "{}", ADMIN).statusCode()).isEqualTo(404);
        assertThat(client.jobs(null, 10)).isEmpty();
    }

    @Test
    void anUnexpectedFailureAnswers500WithoutTheExceptionsText() throws Exception {
        JobView job = client.submit(JobRequest.command(List.of("true"), 1, 1024, 1));
        // A row no Kiln wrote (another version, a hand edit): reading it fails in a way nobody foresaw.
        try (var db = java.sql.DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("kiln.db"));
                var update = db.prepareStatement("UPDATE jobs SET state = 'SECRET_STATE_7f3a' WHERE id = ?")) {
            update.setString(1, job.id());
            assertThat(update.executeUpdate()).isEqualTo(1);
        }
        HttpResponse<String> answer = raw("GET", "/api/v1/jobs/" + job.id(), null, ADMIN);
        assertThat(answer.statusCode()).isEqualTo(500);
        assertThat(answer.body()).contains("\"code\":\"INTERNAL\"").contains("its log has the details under reference e-")
                .doesNotContain("SECRET_STATE_7f3a").doesNotContain("JobState").doesNotContain("Exception")
                .doesNotContain("enum");
        var error = Exchange.READ.readValue(answer.body(), dev.kiln.api.ApiError.class);
        assertThat(error.message()).matches("the server failed unexpectedly; its log has the details under reference e-[0-9a-f]{12}");
    }

    @Test
    void aJobIsValidatedFieldByField() {
        assertThatThrownBy(() -> client.submit(JobRequest.command(List.of(), 1, 1024, 1)))
                .hasMessageContaining("command is missing");
        assertThatThrownBy(() -> client.submit(JobRequest.command(List.of("x"), 1, 64, 1)))
                .hasMessageContaining("memoryMib must be from 128");
        assertThatThrownBy(() -> client.submit(new JobRequest(List.of("x"), null, null, List.of("kiln-4cpu"), null,
                null, null, null, null, null, null, null)))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_LABEL))
                .hasMessageContaining("memory is missing");

        JobView job = client.submit(new JobRequest(List.of("echo", "hi"), null, null, List.of("kiln-4cpu-8gb"), null,
                null, null, null, null, null, null, null));
        assertThat(job.cpus()).isEqualTo(4);
        assertThat(job.memoryMib()).isEqualTo(8192);
        assertThat(client.job(job.id()).timeline()).hasSize(1);
        assertThat(client.jobs(JobState.QUEUED, 10)).extracting(JobView::id).containsExactly(job.id());
        assertThatThrownBy(() -> client.jobs(null, 0)).hasMessageContaining("limit must be");
    }

    @Test
    void anAgentEnrolsOnceAndABadReportIsRefusedWholeAndChangesNothing() {
        String enrolment = client.addHost("h1").enrolmentToken();
        var enrolled = AgentClient.enrol(server.uri(), enrolment);
        assertThat(enrolled.host()).isEqualTo("h1");
        assertThatThrownBy(() -> AgentClient.enrol(server.uri(), enrolment))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED))
                .hasMessageContaining("used already");
        assertThatThrownBy(() -> client.addHost("h1")).hasMessageContaining("exists already");
        assertThatThrownBy(() -> client.addHost("Bad Name")).hasMessageContaining("must be 1 to 63");

        AgentClient agent = new AgentClient(server.uri(), enrolled.hostToken());
        AgentReport bad = new AgentReport("boot", 1, "v", "x86_64", 4, 8192, 10, null,
                List.of(new VmReport("vm-1", VmState.EXITED, 999, null, null)));
        assertThatThrownBy(() -> agent.sync(bad, Duration.ZERO))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("exitCode from 0 to 255");
        assertThat(client.hosts()).singleElement().satisfies(h -> assertThat(h.state()).isEqualTo("PENDING"));
        assertThatThrownBy(() -> agent.sync(new AgentReport("boot", 1, "v", "sparc", 4, 8192, 10, null, List.of()),
                Duration.ZERO)).hasMessageContaining("'sparc' is not x86_64 or arm64");

        var answer = agent.sync(new AgentReport("boot", 1, "v", "x86_64", 4, 8192, 10, null, List.of()), Duration.ZERO);
        assertThat(answer.host()).isEqualTo("h1");
        assertThat(client.hosts()).singleElement().satisfies(h -> {
            assertThat(h.state()).isEqualTo("ACTIVE");
            assertThat(h.vcpus()).isEqualTo(4);
        });

        client.drainHost("h1");
        client.removeHost("h1");
        assertThatThrownBy(() -> agent.sync(new AgentReport("boot", 2, "v", "x86_64", 4, 8192, 10, null, List.of()),
                Duration.ZERO)).isInstanceOfSatisfying(KilnException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED)).hasMessageContaining("revoked");
        assertThatThrownBy(() -> new AgentClient(server.uri(), "kiln-host-guess").sync(
                new AgentReport("boot", 1, "v", "x86_64", 4, 8192, 10, null, List.of()), Duration.ZERO))
                .hasMessageContaining("unknown or was revoked");
    }

    @Test
    void aHeldSyncAnswersAsSoonAsTheHostIsGivenAVm() throws Exception {
        var enrolled = AgentClient.enrol(server.uri(), client.addHost("h1").enrolmentToken());
        AgentClient agent = new AgentClient(server.uri(), enrolled.hostToken());
        var first = agent.sync(new AgentReport("boot", 1, "v", "x86_64", 4, 8192, 10, null, List.of()), Duration.ZERO);
        assertThat(first.vms()).isEmpty();

        var held = java.util.concurrent.CompletableFuture.supplyAsync(() -> agent.sync(new AgentReport("boot", 2, "v",
                "x86_64", 4, 8192, 10, first.desiredVersion(), List.of()), Duration.ofSeconds(20)));
        JobView job = client.submit(JobRequest.command(List.of("true"), 1, 1024, 1));

        var answer = held.get();
        assertThat(answer.vms()).singleElement().satisfies(vm -> assertThat(vm.job()).isEqualTo(job.id()));
    }

    @Test
    void anUnreachableServerIsAClearError() {
        server.close();
        assertThatThrownBy(() -> client.jobs(null, 1)).isInstanceOfSatisfying(KilnException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UNAVAILABLE);
            assertThat(e.getMessage()).contains("cannot reach the Kiln server at " + server.uri());
        });
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0), InstantSource.system());
    }

    @Test
    void aBadConfigurationListsEveryProblem() {
        ServerConfig bad = ServerConfig.defaults("mysql://x", "short").withListen("127.0.0.1", 70000);
        assertThatThrownBy(() -> KilnServer.start(bad, InstantSource.system()))
                .hasMessageContaining("3 problem(s)").hasMessageContaining("jdbc:sqlite:FILE")
                .hasMessageContaining("port must be").hasMessageContaining("admin token must be at least 16");
        assertThat(bad.toString()).doesNotContain("short");
    }

    private HttpResponse<String> raw(String method, String path, String body, String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.uri() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        }
    }
}
