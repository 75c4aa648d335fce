package dev.kiln.server.gitlab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.server.KilnServer;
import dev.kiln.server.MetricsScrape;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.SimulatedHost;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.FakeGitLabHooks;
import dev.kiln.testkit.gitlab.SimulatedGitLabRunner;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GitLab provider's intake in a real server (SQLite) on FakeGitLab, with no host: Job Hooks make one demand per
 * pending job with Kiln's tags (sized by them, the tags read from the Jobs API), whatever the duplicates; a hook
 * without the secret is refused before its body is read and nothing is kept; a lost hook is caught by the reconcile
 * on the server's clock; a job canceled before pickup releases its demand; a demand whose hooks were lost concludes
 * when its runner VM's end is reported.
 */
@Timeout(120)
class GitLabIntakeTest {
    static final String ADMIN = "gitlab-admin-token-0123456789";
    static final String SECRET = "gitlab-hook-secret";

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitLab fake = FakeGitLab.start(clock);
    final HttpClient http = HttpClient.newHttpClient();
    KilnServer server;
    KilnClient client;

    void serve() {
        fake.addGroup("acme");
        fake.addProject("acme/widgets");
        fake.addProject("acme/elsewhere");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        GitLabConfig config = new GitLabConfig(fake.url(), fake.url(), fake.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api"),
                SECRET, List.of("acme/widgets"), List.of());
        GitLabSettings settings = GitLabSettings.defaults(config, new GitLabClient(config, http, clock::advance)).withTick(Duration.ofMillis(50));
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0),
                clock, null, List.of(GitLabProvider.factory(settings)));
        client = new KilnClient(server.uri(), ADMIN);
        fake.hooks().sendTo(server.uri().resolve(GitLabHooks.PATH), SECRET);
        // The reconcile at start has asked GitLab once: what follows is the hooks' doing, or a later reconcile's.
        await().atMost(Duration.ofSeconds(10)).until(() -> fake.requests().containsKey("GET /projects/:id/jobs"));
    }

    @AfterEach
    void close() {
        if (server != null) {
            server.close();
        }
        fake.close();
    }

    List<JobView> demandsFor(long gitlabJob) {
        return client.jobs(null, 1000).stream().filter(j -> j.kind().equals("gitlab"))
                .filter(j -> client.job(j.id()).timeline().getFirst().detail().contains("GitLab job " + gitlabJob + " (")).toList();
    }

    @Test
    void aPendingJobWithKilnsTagMakesOneDemandSizedByItsTagsWhateverTheDuplicates() {
        serve();
        fake.hooks().duplicateNext(2);
        long job = fake.queueJob("acme/widgets", "build", List.of("kiln-4cpu-8gb", "docker"), "make");
        long notOurs = fake.queueJob("acme/widgets", "lint", List.of("docker"), "make lint");
        long elsewhere = fake.queueJob("acme/elsewhere", "build", List.of("kiln"), "make");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.hooks().idle() && demandsFor(job).size() == 1
                && client.job(demandsFor(job).getFirst().id()).timeline().size() >= 1);
        JobView demand = demandsFor(job).getFirst();
        assertThat(demand.cpus()).isEqualTo(4);
        assertThat(demand.memoryMib()).isEqualTo(8 * 1024);
        assertThat(demand.repo()).isEqualTo("acme/widgets");
        assertThat(demand.state()).isEqualTo(JobState.QUEUED);
        assertThat(fake.hooks().deliveries()).extracting(FakeGitLabHooks.Delivery::status).containsOnly(200, 202);
        await().atMost(Duration.ofSeconds(10)).until(() -> processed() == fake.hooks().deliveries().stream()
                .map(FakeGitLabHooks.Delivery::idempotencyKey).distinct().count());
        assertThat(demandsFor(notOurs)).isEmpty();
        assertThat(demandsFor(elsewhere)).isEmpty();
        assertThat(client.jobs(null, 1000)).filteredOn(j -> j.kind().equals("gitlab")).hasSize(1);
        // Tags came from the Jobs API once: the duplicated pending hook made no second call.
        assertThat(fake.requests()).containsEntry("GET /projects/:id/jobs/:job_id", 2L);
    }

    /**
     * /metrics on GitLab's side: each hook's outcome, the requests Kiln sent by route and status (what the fake served),
     * and the rate limit left as GitLab's RateLimit-* headers told it; and a demand's answer names its GitLab job and
     * pipeline on the configured instance.
     */
    @Test
    void metricsCountHooksApiCallsAndTheRateLimitAndADemandNamesItsPipeline() throws Exception {
        serve();
        fake.hooks().duplicateNext(2);
        long job = fake.queueJob("acme/widgets", "build", List.of("kiln-4cpu-8gb", "docker"), "make");
        fake.queueJob("acme/widgets", "lint", List.of("docker"), "make lint");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.hooks().idle() && demandsFor(job).size() == 1);
        long distinct = fake.hooks().deliveries().stream().map(FakeGitLabHooks.Delivery::idempotencyKey).distinct().count();
        await().atMost(Duration.ofSeconds(10)).until(() -> processed() == distinct);
        HttpResponse<String> forged = http.send(HttpRequest.newBuilder(server.uri().resolve(GitLabHooks.PATH))
                .header("X-Gitlab-Token", "wrong").header("X-Gitlab-Event", "Job Hook")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(forged.statusCode()).isEqualTo(401);

        String gitlab = "provider=\"gitlab\"";
        Map<String, Double> m = MetricsScrape.samples(MetricsScrape.text(server.uri(), ADMIN));
        assertThat(m).containsEntry("kiln_webhook_deliveries_total{outcome=\"duplicate\"," + gitlab + "}",
                        (double) (fake.hooks().deliveries().size() - distinct))
                .containsEntry("kiln_webhook_deliveries_total{outcome=\"bad_signature\"," + gitlab + "}", 1.0);
        assertThat(fake.hooks().deliveries().size() - distinct).isPositive();
        double accepted = m.get("kiln_webhook_deliveries_total{outcome=\"accepted\"," + gitlab + "}");
        double ignored = m.get("kiln_webhook_deliveries_total{outcome=\"ignored\"," + gitlab + "}");
        assertThat(accepted + ignored).as("each hook kept is counted once, when processed").isEqualTo((double) distinct);
        assertThat(accepted).isGreaterThanOrEqualTo(1.0);
        assertThat(m).containsEntry("kiln_provider_api_calls_total{endpoint=\"GET /projects/:id/jobs/:job_id\"," + gitlab
                + ",status=\"200\"}", (double) fake.requests().get("GET /projects/:id/jobs/:job_id"));
        long served = fake.requests().values().stream().mapToLong(Long::longValue).sum();
        assertThat(MetricsScrape.sum(m, "kiln_provider_api_calls_total", gitlab)).isEqualTo((double) served);
        // The fake's clock stands still: every request fell in one minute of GitLab's 2,000-request throttle.
        assertThat(m).containsEntry("kiln_provider_rate_limit{credential=\"token\"," + gitlab + "}", 2000.0)
                .containsEntry("kiln_provider_rate_limit_remaining{credential=\"token\"," + gitlab + "}", 2000.0 - served);
        MetricsScrape.promtoolAccepts(MetricsScrape.text(server.uri(), ADMIN));

        JobView.GitLabJob side = client.job(demandsFor(job).getFirst().id()).gitlab();
        assertThat(side.jobId()).isEqualTo(job);
        assertThat(side.project()).isEqualTo("acme/widgets");
        assertThat(side.pipelineId()).isEqualTo(fake.pipelineOf(job));
        assertThat(side.webUrl()).isEqualTo(fake.url().toString().replaceFirst("/+$", ""));
    }

    @Test
    void aHookWithoutTheSecretIsRefusedBeforeItsBodyIsReadAndNothingIsKept() throws Exception {
        serve();
        String body = "{\"object_kind\": \"build\", \"build_id\": 5, \"project_id\": 1, \"build_status\": \"pending\"}";
        for (String token : new String[] {null, "wrong", SECRET + "x"}) {
            HttpRequest.Builder request = HttpRequest.newBuilder(server.uri().resolve(GitLabHooks.PATH))
                    .header("X-Gitlab-Event", "Job Hook").POST(HttpRequest.BodyPublishers.ofString(body));
            if (token != null) {
                request.header("X-Gitlab-Token", token);
            }
            HttpResponse<String> answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).isEqualTo(401);
            assertThat(answer.body()).contains("UNAUTHENTICATED").doesNotContain(SECRET);
        }
        HttpResponse<String> get = http.send(HttpRequest.newBuilder(server.uri().resolve(GitLabHooks.PATH)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(get.statusCode()).isEqualTo(405);
        assertThat(get.headers().firstValue("Allow")).hasValue("POST");
        HttpResponse<String> notJson = http.send(HttpRequest.newBuilder(server.uri().resolve(GitLabHooks.PATH))
                .header("X-Gitlab-Token", SECRET).header("X-Gitlab-Event", "Job Hook").header("Idempotency-Key", "k-1")
                .POST(HttpRequest.BodyPublishers.ofString("[not json")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(notJson.statusCode()).as("a verified hook is answered at once and kept").isEqualTo(202);
        await().atMost(Duration.ofSeconds(10)).until(() -> processed() == 1);
        assertThat(hookRows()).isEqualTo(1);
        assertThat(outcome("k-1")).startsWith("refused: the hook's body is not JSON");
    }

    @Test
    void aDroppedHookIsCaughtByTheReconcileAndACancelReleasesTheDemand() {
        serve();
        fake.hooks().dropNext(2); // created and pending
        long job = fake.queueJob("acme/widgets", "build", List.of("kiln"), "make");
        await().atMost(Duration.ofSeconds(10)).until(() -> fake.hooks().idle());
        assertThat(demandsFor(job)).isEmpty();

        clock.advance(Duration.ofMinutes(1));
        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1);
        String demand = demandsFor(job).getFirst().id();
        assertThat(client.job(demand).state()).isEqualTo(JobState.QUEUED);

        fake.cancel(job);
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(demand).state() == JobState.CANCELLED);
        assertThat(client.job(demand).detail()).contains("GitLab job " + job + " canceled before a Kiln runner took it");
    }

    /**
     * A replica killed while its runner works loses the job's {@code running} and {@code success} hooks: GitLab knew the
     * outcome before the runner VM ended, so the demand concludes once the VM's end is reported and the hooks' grace
     * passed, on the clean-up's tick, with the clock short of a reconcile interval (the quiet reconcile alone took one
     * to two of them).
     */
    @Test
    void aDemandWhoseHooksWereLostConcludesWhenItsRunnerVmEndsNotAReconcileLater() throws Exception {
        serve();
        SimulatedHost host = SimulatedHost.enrol(server.uri(), client, "h1", 8, 16).withRunnerGuest(new SimulatedGitLabRunner());
        try {
            long job = fake.queueJob("acme/widgets", "build", List.of("kiln"), "make");
            await().atMost(Duration.ofSeconds(30)).until(() -> fake.hooks().idle() && demandsFor(job).size() == 1);
            String demand = demandsFor(job).getFirst().id();
            fake.hooks().dropNext(2); // running and success
            clock.advance(Duration.ofSeconds(1)); // the VM ends after the job was last heard of

            await().atMost(Duration.ofSeconds(30)).until(() -> {
                host.sync(); // launches the runner VM, then reports its end
                return fake.job(job).status().equals("success") && host.running().isEmpty();
            });
            host.sync();
            // The hooks had their grace: none came.
            clock.advance(GitLabProvider.HOOK_GRACE);
            await().atMost(Duration.ofSeconds(30)).until(() -> client.job(demand).state().terminal());
            assertThat(fake.hooks().deliveries()).extracting(FakeGitLabHooks.Delivery::status).contains(FakeGitLabHooks.DROPPED);
            assertThat(fake.hooks().deliveries().stream().filter(d -> d.status() == FakeGitLabHooks.DROPPED)).hasSize(2);
            JobView concluded = client.job(demand);
            assertThat(concluded.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(concluded.detail()).contains("GitLab job " + job + " success");
            assertThat(fake.requests()).as("asked once about the job when its VM ended (and once for its pending hook)")
                    .containsEntry("GET /projects/:id/jobs/:job_id", 2L);
            assertThat(concluded.gitlab().status()).isEqualTo("success");

            // The 'running' hook, late after all: it changes nothing of the job's end.
            FakeGitLabHooks.Delivery running = fake.hooks().deliveries().stream()
                    .filter(d -> d.status() == FakeGitLabHooks.DROPPED && d.bodyText().contains("\"running\"")).findFirst().orElseThrow();
            long before = processed();
            HttpResponse<String> late = http.send(HttpRequest.newBuilder(server.uri().resolve(GitLabHooks.PATH))
                    .header("X-Gitlab-Token", SECRET).header("X-Gitlab-Event", running.event())
                    .header("Idempotency-Key", running.idempotencyKey())
                    .POST(HttpRequest.BodyPublishers.ofByteArray(running.body())).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(late.statusCode()).isEqualTo(202);
            await().atMost(Duration.ofSeconds(10)).until(() -> processed() == before + 1);
            assertThat(client.job(demand).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(client.job(demand).gitlab().status()).as("GitLab's status as last heard of, not undone").isEqualTo("success");
        } finally {
            host.close();
        }
    }

    /**
     * GitLab hands a runner the oldest pending job its tags cover, not the one its demand was made for, and every hook
     * that would say so can be lost: the demand made first (for the newer job, the older one's hooks were lost) runs
     * the older job, the other the newer. Asked about the older job at the second VM's end, GitLab names the first
     * runner: the first demand concludes, and the newer job becomes the second demand's, as the lost 'running' hook
     * would have made it, so the second concludes at its next question (it stayed RUNNING for good, its questions
     * all about the older job).
     */
    @Test
    void crossedRunnersWhoseHooksWereAllLostConcludeBothDemands() {
        serve();
        SimulatedHost host = SimulatedHost.enrol(server.uri(), client, "h1", 2, 6).withRunnerGuest(new SimulatedGitLabRunner());
        try {
            fake.hooks().dropNext(2); // created and pending: the reconcile makes the older job's demand, after the newer's
            long older = fake.queueJob("acme/widgets", "older", List.of("kiln-2cpu-4gb"), "make");
            await().atMost(Duration.ofSeconds(10)).until(() -> fake.hooks().idle());
            long newer = fake.queueJob("acme/widgets", "newer", List.of("kiln-2cpu-4gb"), "make");
            await().atMost(Duration.ofSeconds(30)).until(() -> fake.hooks().idle() && demandsFor(newer).size() == 1);
            fake.hooks().dropNext(100); // every hook from here on: both jobs' running and success
            clock.advance(Duration.ofMinutes(1));
            await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(older).size() == 1);
            String first = demandsFor(newer).getFirst().id();
            String second = demandsFor(older).getFirst().id();
            clock.advance(Duration.ofSeconds(1));

            // Room for one VM (6 GiB): the first demand's runner takes the oldest pending job, the older one.
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                host.sync();
                return fake.job(older).status().equals("success") && host.running().isEmpty();
            });
            host.sync(); // reports the first VM's end (the second's may launch now; its end waits for the next sync)
            long asked = fake.requests().get("GET /projects/:id/jobs/:job_id");
            clock.advance(GitLabProvider.HOOK_GRACE);
            await().atMost(Duration.ofSeconds(30)).until(() -> fake.requests().get("GET /projects/:id/jobs/:job_id") > asked);
            clock.advance(Duration.ofSeconds(1)); // the second VM ends after that question

            await().atMost(Duration.ofSeconds(30)).until(() -> {
                host.sync();
                return fake.job(newer).status().equals("success") && host.running().isEmpty();
            });
            host.sync();
            clock.advance(GitLabProvider.HOOK_GRACE);
            await().atMost(Duration.ofSeconds(30)).until(() -> client.job(first).state().terminal() && client.job(second).state().terminal());
            assertThat(fake.job(older).runnerId()).as("the runners crossed").isNotEqualTo(fake.job(newer).runnerId());
            assertThat(client.job(first).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(client.job(first).detail()).contains("GitLab job " + older + " success");
            assertThat(client.job(second).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(client.job(second).detail()).contains("GitLab job " + newer + " success");
        } finally {
            host.close();
        }
    }

    private long processed() throws Exception {
        return query("SELECT COUNT(*) FROM gitlab_hooks WHERE processed_at IS NOT NULL");
    }

    private long hookRows() throws Exception {
        return query("SELECT COUNT(*) FROM gitlab_hooks");
    }

    private long query(String sql) throws Exception {
        try (var connection = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("kiln.db"));
             var result = connection.createStatement().executeQuery(sql)) {
            return result.next() ? result.getLong(1) : 0;
        }
    }

    private String outcome(String id) throws Exception {
        try (var connection = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("kiln.db"));
             var statement = connection.prepareStatement("SELECT outcome FROM gitlab_hooks WHERE id = ?")) {
            statement.setString(1, id);
            try (var result = statement.executeQuery()) {
                return result.next() ? result.getString(1) : null;
            }
        }
    }

}
