package dev.kiln.server.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.RunnerScope;
import dev.kiln.github.Secret;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.SimulatedHost;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import dev.kiln.testkit.github.RunnerGuest;
import dev.kiln.testkit.github.SimulatedRunner;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GitHub end to end without a VM, the server's side: a real server (SQLite, port 0) with the App on a faithful fake
 * GitHub (real JWTs, tokens, signatures): intake (signatures, bounds, the documented examples, duplicates, a dropped
 * webhook), and hosts played over the real sync protocol ({@link SimulatedHost}) whose runner VMs claim jobs from the
 * fake with their JIT configs, as the stand-in runner does. The server's loops run on the test's clock. (With real
 * agents and VMs: kiln-agent's GitHubRealVmTest and GitHubBenchmark.)
 */
@Timeout(120)
class GitHubFleetTest {
    static final long APP_ID = 4242;
    static final String SECRET = "webhook-secret-for-fleet-tests";
    static final String ADMIN = "github-runners-admin-token-0123456789";
    static final KeyPair KEYS = AppKeys.generate();

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), clock);
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
    final HttpClient http = HttpClient.newHttpClient();
    final List<SimulatedHost> hosts = new ArrayList<>();
    KilnServer server;
    KilnClient client;
    GitHubApp app;

    void fleet() {
        fleet(Map.of());
    }

    /** A server whose App caps these owners' jobs at once ({@code org-cap.<owner>}). */
    void fleet(Map<String, Integer> orgCaps) {
        fleet(orgCaps, null);
    }

    /** A server whose image names resolve in {@code images} (null: it leaves images to its hosts). */
    void fleet(Map<String, Integer> orgCaps, dev.kiln.images.ImageStore images) {
        fake.addRepository("acme", "widgets");
        GitHubConfig config = new GitHubConfig(APP_ID, Path.of("(in memory)"), (RSAPrivateKey) KEYS.getPrivate(),
                Secret.of(SECRET), fake.url(), fake.url(), GitHubConfig.DEFAULT_RUNNER_GROUP_ID, List.of(), List.of(), orgCaps);
        app = new GitHubApp(config, http, clock, clock::advance);
        // Hosts are never silent here: the tests move the clock by minutes, which no host's sync keeps up with.
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0).withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)), clock, images,
                GitHubProvider.factories(GitHubSettings.defaults(app).withTick(Duration.ofMillis(50))));
        client = new KilnClient(server.uri(), ADMIN);
        fake.webhooks().sendTo(webhooks(), SECRET);
    }

    /** A host that syncs on its own, its runner VMs running {@code guest}. */
    SimulatedHost host(String name, int vcpus, long memoryGib, RunnerGuest guest) {
        SimulatedHost host = SimulatedHost.enrol(server.uri(), client, name, vcpus, memoryGib).withRunnerGuest(guest).start();
        hosts.add(host);
        return host;
    }

    JobView awaitEnd(String job) {
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(job).state().terminal());
        return client.job(job);
    }

    @AfterEach
    void close() {
        hosts.forEach(SimulatedHost::close);
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
        fleet();
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
        fleet();
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
        fleet();
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
        fleet();
        // The reconciler's pass at start (it lists queued and in-progress runs) is over before the job is queued, so
        // that only the clock's move past the interval can find it.
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.requests().getOrDefault("GET /repos/{owner}/{repo}/actions/runs", 0L) >= 2);
        fake.webhooks().dropNext(1);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln"), "true");
        assertThat(demandsFor(job)).isEmpty();

        clock.advance(Duration.ofMinutes(3));

        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1);
        JobView demand = demandsFor(job).getFirst();
        assertThat(demand.state()).isEqualTo(JobState.QUEUED);
        assertThat(demand.github().labels()).containsExactly("kiln");
    }

    @Test
    void aLostCompletedWebhookIsReplacedByGitHubsConclusionOnceTheRunnerVmHasExited() {
        java.util.concurrent.CountDownLatch finish = new java.util.concurrent.CountDownLatch(1);
        fleet();
        host("h1", 4, 8, SimulatedRunner.claimingUntil(finish));
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1
                && demandsFor(job).getFirst().github().ranJobId() != null);
        String demand = demandsFor(job).getFirst().id();

        fake.webhooks().dropNext(1);
        finish.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.job(job).status().equals("completed")
                && fake.webhooks().idle() && client.vms().isEmpty());
        assertThat(fake.webhooks().deliveries().getLast()).extracting(d -> d.action(), d -> d.status())
                .containsExactly("completed", -1);
        assertThat(client.job(demand).state()).as("the runner's exit says nothing of the job").isEqualTo(JobState.RUNNING);

        clock.advance(Duration.ofMinutes(3));

        JobView done = awaitEnd(demand);
        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(done.github().conclusion()).isEqualTo("success");
        assertThat(done.github().ranJobId()).isEqualTo(job);
        assertThat(done.detail()).contains("GitHub job " + job + " concluded success");
        assertThat(fake.requests()).containsEntry("GET /repos/{owner}/{repo}/actions/jobs/{id}", 1L);
    }

    @Test
    void aJobCancelledBeforePickupLeavesNoVmAndNoRunnerAfterTheReaper() {
        fleet();
        host("h1", 4, 8, SimulatedRunner.idle());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().stream().anyMatch(r -> r.online()));
        assertThat(client.vms()).hasSize(1);

        fake.cancel(job);

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && client.vms().isEmpty());
        JobView demand = demandsFor(job).getFirst();
        assertThat(awaitEnd(demand.id()).state()).isEqualTo(JobState.CANCELLED);
    }

    @Test
    void aRunnerThatGetsNoJobWithinTheIdleTimeoutIsRemovedWithItsVm() {
        fleet();
        host("h1", 4, 8, SimulatedRunner.idle());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().stream().anyMatch(r -> r.online()));
        // The job goes away and Kiln never hears of it: only the idle timeout frees the runner.
        fake.webhooks().dropNext(1);
        fake.cancel(job);

        clock.advance(Duration.ofMinutes(4));
        assertThat(fake.runners()).hasSize(1);
        clock.advance(Duration.ofMinutes(2));

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && client.vms().isEmpty());
        assertThat(awaitEnd(demandsFor(job).getFirst().id()).detail()).contains("took no job within 5 min");
    }

    @Test
    void underARateLimitKilnWaitsThenSucceeds() {
        fleet();
        fake.faults().exhaustPrimaryRateLimit(Duration.ofMinutes(1), 403);
        host("h1", 4, 8, SimulatedRunner.claiming());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1);

        JobView done = awaitEnd(demandsFor(job).getFirst().id());

        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(done.github().conclusion()).isEqualTo("success");
        assertThat(fake.job(job).conclusion()).isEqualTo("success");
    }

    @Test
    void whileGitHubFailsKilnSendsNothingUntilItsBackoffHasPassedThenEveryJobRuns() {
        fleet();
        host("h1", 8, 16, SimulatedRunner.claiming());
        // The reconciler's pass at start (it lists queued and in-progress runs) is over before GitHub fails.
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.requests().getOrDefault("GET /repos/{owner}/{repo}/actions/runs", 0L) >= 2);
        long before = sent();
        fake.faults().failNext(1_000_000, 503);
        long first = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> app.unavailable().isPresent());
        assertThat(sent()).as("one call's five attempts").isEqualTo(before + 5);

        long second = fake.queueJob("acme", "widgets", "test", List.of("kiln-2cpu-4gb"), "true");
        // The second VM wakes the host's sync, which wants both runners: Kiln holds both calls back.
        await().atMost(Duration.ofSeconds(30)).until(() -> app.unavailable().orElseThrow().heldBack() >= 2);
        assertThat(sent()).isEqualTo(before + 5);
        assertThat(demandsFor(first).getFirst().state()).isEqualTo(JobState.SCHEDULED);

        fake.faults().failNext(0, 503);
        clock.advance(Duration.ofMinutes(1));
        long third = fake.queueJob("acme", "widgets", "lint", List.of("kiln-2cpu-4gb"), "true");

        await().atMost(Duration.ofSeconds(60)).until(() -> List.of(first, second, third).stream().allMatch(j ->
                demandsFor(j).size() == 1 && demandsFor(j).getFirst().state() == JobState.SUCCEEDED));
        assertThat(app.unavailable()).isEmpty();
        assertThat(fake.requests()).containsEntry("POST /orgs/{org}/actions/runners/generate-jitconfig", 3L);
    }

    long sent() {
        return fake.requests().values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * /metrics during a GitHub fleet run: each delivery's outcome as the intake decided it, the requests Kiln sent to
     * GitHub by route and status (checked against what the fake served), and the rate limit left as GitHub's last
     * answer told it (the fake's x-ratelimit-remaining for the installation).
     */
    @Test
    void metricsCountWebhookOutcomesApiCallsAndTheRateLimitLeft() throws Exception {
        fleet();
        host("h1", 4, 8, SimulatedRunner.claiming());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(60)).until(() -> demandsFor(job).size() == 1
                && demandsFor(job).getFirst().state().terminal());
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle());
        fake.webhooks().redeliver(fake.webhooks().deliveries().getFirst().guid());
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle());
        String body = QUEUED_EXAMPLE.replace("mvm-4cpu", "kiln-4cpu-8gb");
        assertThat(post("workflow_job", UUID.randomUUID().toString(), body,
                new WebhookVerifier(Secret.of("not-the-secret")).sign(body.getBytes(UTF_8))).statusCode()).isEqualTo(401);
        assertThat(signed("workflow_job", UUID.randomUUID().toString(), "{not json").statusCode()).isEqualTo(400);
        assertThat(signed("installation", UUID.randomUUID().toString(), "{\"action\": \"created\"}").statusCode()).isEqualTo(202);
        int fromFake = fake.webhooks().deliveries().size();

        Map<String, Double> m = dev.kiln.server.MetricsScrape.samples(dev.kiln.server.MetricsScrape.text(server.uri(), ADMIN));
        String github = "provider=\"github\"";
        assertThat(m).containsEntry("kiln_webhook_deliveries_total{outcome=\"duplicate\"," + github + "}", 1.0)
                .containsEntry("kiln_webhook_deliveries_total{outcome=\"bad_signature\"," + github + "}", 1.0)
                .containsEntry("kiln_webhook_deliveries_total{outcome=\"invalid\"," + github + "}", 1.0)
                .containsEntry("kiln_webhook_deliveries_total{outcome=\"too_large\"," + github + "}", 0.0);
        double accepted = m.get("kiln_webhook_deliveries_total{outcome=\"accepted\"," + github + "}");
        double ignored = m.get("kiln_webhook_deliveries_total{outcome=\"ignored\"," + github + "}");
        // queued, in_progress and completed of the job, at least, were acted on; the installation event was not.
        assertThat(accepted).isGreaterThanOrEqualTo(3.0);
        assertThat(ignored).isGreaterThanOrEqualTo(1.0);
        // Every delivery the fake made but the redelivery (the duplicate), and the installation event: each counted once.
        assertThat(accepted + ignored).isEqualTo(fromFake - 1 + 1);

        String jit = "POST /orgs/{org}/actions/runners/generate-jitconfig";
        assertThat(fake.requests()).containsKey(jit);
        assertThat(m).containsEntry("kiln_provider_api_calls_total{endpoint=\"" + jit + "\"," + github + ",status=\"201\"}",
                (double) fake.requests().get(jit));
        assertThat(dev.kiln.server.MetricsScrape.sum(m, "kiln_provider_api_calls_total", github))
                .isEqualTo((double) app.totalApiCalls());
        String installation = "credential=\"installation-" + acme + "\"";
        assertThat(m).containsEntry("kiln_provider_rate_limit{" + installation + "," + github + "}", 5000.0);
        // Kiln's loops may still call GitHub: once quiet, the gauge is what the fake's last answer said.
        await().atMost(Duration.ofSeconds(30)).untilAsserted(() -> assertThat(dev.kiln.server.MetricsScrape.samples(
                dev.kiln.server.MetricsScrape.text(server.uri(), ADMIN)))
                .containsEntry("kiln_provider_rate_limit_remaining{" + installation + "," + github + "}",
                        (double) fake.faults().remaining("installation " + acme)));
        assertThat(fake.faults().remaining("installation " + acme)).isLessThan(5000);
        dev.kiln.server.MetricsScrape.promtoolAccepts(dev.kiln.server.MetricsScrape.text(server.uri(), ADMIN));
    }

    @Test
    void threeJobsAtOnceAcrossTwoHostsEachRunOnItsOwnRunnerAndShowWhatRanWhere() {
        fleet();
        host("h1", 4, 8, SimulatedRunner.claiming());
        host("h2", 4, 8, SimulatedRunner.claiming());
        List<Long> jobs = List.of(
                fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("acme", "widgets", "test", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("acme", "widgets", "lint", List.of("kiln-2cpu-4gb"), "true"));

        await().atMost(Duration.ofSeconds(60)).until(() -> jobs.stream().allMatch(j -> demandsFor(j).size() == 1
                && demandsFor(j).getFirst().state().terminal()));

        List<JobView> done = jobs.stream().map(j -> client.job(demandsFor(j).getFirst().id())).toList();
        assertThat(done).allSatisfy(d -> {
            assertThat(d.state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(d.github().repository()).isEqualTo("acme/widgets");
            assertThat(d.github().labels()).containsExactly("kiln-2cpu-4gb");
            assertThat(d.github().runnerName()).isEqualTo(GitHubApp.runnerName(d.vm()));
            assertThat(d.github().ranJobId()).isIn(jobs);
            assertThat(d.github().conclusion()).isEqualTo("success");
            assertThat(d.host()).isIn("h1", "h2");
        });
        assertThat(done).extracting(JobView::host).containsOnly("h1", "h2").contains("h1", "h2");
        assertThat(done).extracting(d -> d.github().ranJobId()).containsExactlyInAnyOrderElementsOf(jobs);
        assertThat(jobs).allSatisfy(j -> assertThat(fake.job(j).conclusion()).isEqualTo("success"));
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && client.vms().isEmpty());
    }

    @Test
    void aKilnArm64JobEndsOnTheHostOfferingArm64WithAnArm64Runner() throws Exception {
        var images = new dev.kiln.images.ImageStore(dir.resolve("images"));
        String x86Runner = addImage(images, "runner", dev.kiln.core.Arch.X86_64).digest();
        String armRunner = addImage(images, "runner-arm64", dev.kiln.core.Arch.ARM64).digest();
        fleet(Map.of(), images);
        java.util.concurrent.CountDownLatch finish = new java.util.concurrent.CountDownLatch(1);
        SimulatedHost x86 = SimulatedHost.enrol(server.uri(), client, "x86", "x86_64", List.of(), 4, 8)
                .withRunnerGuest(SimulatedRunner.claimingUntil(finish)).start();
        SimulatedHost arm = SimulatedHost.enrol(server.uri(), client, "arm", "x86_64", List.of("arm64"), 4, 8)
                .withRunnerGuest(SimulatedRunner.claimingUntil(finish)).start();
        hosts.addAll(List.of(x86, arm));
        long armJob = fake.queueJob("acme", "widgets", "build-arm", List.of("kiln-arm64-2cpu-4gb"), "true");
        long x86Job = fake.queueJob("acme", "widgets", "build-x86", List.of("kiln-2cpu-4gb"), "true");

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().stream().filter(r -> r.busy()).count() == 2);
        var runners = fake.runners();
        assertThat(runners).filteredOn(r -> r.labels().contains("kiln-arm64-2cpu-4gb")).singleElement()
                .satisfies(r -> assertThat(r.labels()).contains("ARM64", "self-hosted"));
        assertThat(runners).filteredOn(r -> r.labels().contains("kiln-2cpu-4gb")).singleElement()
                .satisfies(r -> assertThat(r.labels()).doesNotContain("ARM64"));
        finish.countDown();

        JobView armDone = awaitEnd(demandsFor(armJob).getFirst().id());
        JobView x86Done = awaitEnd(demandsFor(x86Job).getFirst().id());
        assertThat(armDone.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(armDone.host()).isEqualTo("arm");
        assertThat(armDone.arch()).isEqualTo("arm64");
        assertThat(launchOf(arm, armDone)).satisfies(launch -> {
            assertThat(launch.arch()).isEqualTo("arm64");
            assertThat(launch.image()).isEqualTo(armRunner);
        });
        assertThat(x86Done.state()).isEqualTo(JobState.SUCCEEDED);
        SimulatedHost x86Host = x86Done.host().equals("arm") ? arm : x86;
        assertThat(launchOf(x86Host, x86Done)).extracting(l -> l.arch(), l -> l.image())
                .containsExactly("x86_64", x86Runner);
        assertThat(fake.job(armJob).conclusion()).isEqualTo("success");
    }

    /** An image of {@code arch} in {@code store}: the server reads only its manifest. */
    static dev.kiln.images.ImageManifest addImage(dev.kiln.images.ImageStore store, String name, dev.kiln.core.Arch arch)
            throws java.io.IOException {
        Path built = java.nio.file.Files.createDirectories(store.newBuildDirectory(name));
        java.nio.file.Files.writeString(built.resolve(dev.kiln.images.ImageManifest.KERNEL), arch + " kernel");
        java.nio.file.Files.writeString(built.resolve(dev.kiln.images.ImageManifest.ROOTFS), arch + " root filesystem of " + name);
        return store.add(built, name, "1", arch.id(), "recipe-" + name, new dev.kiln.images.ImageManifest.Kernel(
                dev.kiln.images.ImageManifest.Kernel.KILN, "6.1.192-kiln", "k-" + arch), null, null);
    }

    static dev.kiln.api.VmLaunch launchOf(SimulatedHost host, JobView job) {
        return host.launches().values().stream().filter(l -> l.job().equals(job.id())).findFirst().orElseThrow();
    }

    @Test
    void aKilnRunnerWithoutAVmIsRemovedFromGitHubAndOthersAreLeftAlone() {
        fleet();
        host("h1", 4, 8, SimulatedRunner.idle());
        fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().stream().anyMatch(r -> r.online()));
        FakeGitHub.RunnerView live = fake.runners().getFirst();
        RunnerScope scope = live.scope().contains("/")
                ? RunnerScope.repo(live.scope().split("/")[0], live.scope().split("/")[1]) : RunnerScope.org(live.scope());
        // A runner named as Kiln names them whose VM this Kiln never had (left by a crashed server, say),
        // and someone else's runner in the same scope.
        GitHubApp app = new GitHubApp(GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(), Secret.of(SECRET),
                fake.url(), fake.url()), http, clock, clock::advance);
        app.generateJitConfig(acme, scope, GitHubApp.runnerName("vm-0123456789ab"), List.of("kiln"));
        app.generateJitConfig(acme, scope, "build-box-7", List.of("linux"));
        assertThat(fake.runners()).hasSize(3);

        clock.advance(Duration.ofMinutes(3));

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().size() == 2);
        assertThat(fake.runners()).extracting(FakeGitHub.RunnerView::name)
                .containsExactlyInAnyOrder(live.name(), "build-box-7");
    }

    @Test
    void anOrganisationCappedAtOneRunsOneRunnerVmAtATimeWhileOthersKeepFlowing() {
        fleet(Map.of("acme", 1));
        fake.installOnOrganization("globex", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("globex", "gadgets");
        GatedRunners runners = new GatedRunners();
        // Room for all five (each host holds three 32 GiB disks): only the cap holds acme's back.
        host("h1", 16, 32, runners);
        host("h2", 16, 32, runners);
        List<Long> acmeJobs = List.of(
                fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("acme", "widgets", "test", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("acme", "widgets", "lint", List.of("kiln-2cpu-4gb"), "true"));
        List<Long> globexJobs = List.of(
                fake.queueJob("globex", "gadgets", "build", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("globex", "gadgets", "test", List.of("kiln-2cpu-4gb"), "true"));

        // globex's demands came after acme's, so the passes that placed them had acme's in their queue too.
        await().atMost(Duration.ofSeconds(30)).until(() -> globexJobs.stream().allMatch(j -> demandsFor(j).size() == 1
                && demandsFor(j).getFirst().vm() != null));
        List<JobView> acme = acmeJobs.stream().map(j -> demandsFor(j).getFirst()).toList();
        assertThat(acme).filteredOn(d -> d.vm() != null).hasSize(1);
        assertThat(acme).filteredOn(d -> d.vm() == null).extracting(JobView::state).containsOnly(JobState.QUEUED).hasSize(2);

        runners.go.countDown();
        List<Long> all = new java.util.ArrayList<>(acmeJobs);
        all.addAll(globexJobs);
        await().atMost(Duration.ofSeconds(60)).until(() -> all.stream().allMatch(j -> demandsFor(j).stream()
                .anyMatch(d -> d.state() == JobState.SUCCEEDED)));
        assertThat(runners.mostAtOnce).containsEntry("acme", 1).containsEntry("globex", 2);
    }

    /** Claiming runners that wait for the test's go once up, counting the runner VMs of each owner up at once. */
    static final class GatedRunners implements RunnerGuest {
        final java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        final Map<String, Integer> mostAtOnce = new java.util.concurrent.ConcurrentHashMap<>();
        private final Map<String, Integer> up = new java.util.HashMap<>();

        @Override
        public int run(String jitConfig) throws Exception {
            String owner = SimulatedRunner.scope(jitConfig).split("/")[0];
            synchronized (up) {
                int now = up.merge(owner, 1, Integer::sum);
                mostAtOnce.merge(owner, now, Math::max);
            }
            try {
                go.await();
                return SimulatedRunner.claiming().run(jitConfig);
            } finally {
                synchronized (up) {
                    up.merge(owner, -1, Integer::sum);
                }
            }
        }
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
