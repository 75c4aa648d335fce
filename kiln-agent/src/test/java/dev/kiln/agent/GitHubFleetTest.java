package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.RunnerScope;
import dev.kiln.github.Secret;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GitHub end to end without a VM: a real server (SQLite, port 0) with the App on a faithful fake GitHub
 * (real JWTs, tokens, signatures), real agents on simulated VMMs whose runner VMs claim jobs from the fake
 * with their JIT configs, as the stand-in runner does. Intake alone (signatures, bounds, the documented examples,
 * duplicates, a dropped webhook) is kiln-server's GitHubIntakeTest.
 */
@Timeout(120)
class GitHubFleetTest {
    static final long APP_ID = 4242;
    static final String SECRET = "webhook-secret-for-fleet-tests";
    static final KeyPair KEYS = AppKeys.generate();

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), clock);
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
    final HttpClient http = HttpClient.newHttpClient();
    TestFleet fleet;
    GitHubApp app;

    TestFleet fleet() {
        return fleet(Map.of());
    }

    /** A fleet whose App caps these owners' jobs at once ({@code org-cap.<owner>}). */
    TestFleet fleet(Map<String, Integer> orgCaps) {
        fake.addRepository("acme", "widgets");
        GitHubConfig config = new GitHubConfig(APP_ID, Path.of("(in memory)"), (RSAPrivateKey) KEYS.getPrivate(),
                Secret.of(SECRET), fake.url(), fake.url(), GitHubConfig.DEFAULT_RUNNER_GROUP_ID, List.of(), List.of(), orgCaps);
        app = new GitHubApp(config, http, clock, clock::advance);
        // Hosts are never silent here: the tests move the clock by minutes, which no agent's sync keeps up with.
        fleet = new TestFleet(dir, c -> c.withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)), null, GitHubSettings.defaults(app).withTick(Duration.ofMillis(50)), clock);
        fake.webhooks().sendTo(webhooks(), SECRET);
        return fleet;
    }

    @AfterEach
    void close() {
        if (fleet != null) {
            fleet.close();
        }
        fake.close();
    }

    URI webhooks() {
        return URI.create(fleet.server.uri() + "/webhooks/github");
    }

    List<JobView> demandsFor(long githubJob) {
        return fleet.client.jobs(null, 1000).stream().filter(j -> j.github() != null && j.github().jobId() == githubJob).toList();
    }

    @Test
    void aLostCompletedWebhookIsReplacedByGitHubsConclusionOnceTheRunnerVmHasExited() {
        java.util.concurrent.CountDownLatch finish = new java.util.concurrent.CountDownLatch(1);
        fleet().host("h1", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.claimingUntil(finish));
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1
                && demandsFor(job).getFirst().github().ranJobId() != null);
        String demand = demandsFor(job).getFirst().id();

        fake.webhooks().dropNext(1);
        finish.countDown();
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.job(job).status().equals("completed")
                && fake.webhooks().idle() && fleet.client.vms().isEmpty());
        assertThat(fake.webhooks().deliveries().getLast()).extracting(d -> d.action(), d -> d.status())
                .containsExactly("completed", -1);
        assertThat(fleet.client.job(demand).state()).as("the runner's exit says nothing of the job").isEqualTo(JobState.RUNNING);

        clock.advance(Duration.ofMinutes(3));

        JobView done = fleet.awaitEnd(demand);
        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(done.github().conclusion()).isEqualTo("success");
        assertThat(done.github().ranJobId()).isEqualTo(job);
        assertThat(done.detail()).contains("GitHub job " + job + " concluded success");
        assertThat(fake.requests()).containsEntry("GET /repos/{owner}/{repo}/actions/jobs/{id}", 1L);
    }

    @Test
    void aJobCancelledBeforePickupLeavesNoVmAndNoRunnerAfterTheReaper() {
        fleet().host("h1", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.idle());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().stream().anyMatch(r -> r.online()));
        assertThat(fleet.client.vms()).hasSize(1);

        fake.cancel(job);

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        JobView demand = demandsFor(job).getFirst();
        assertThat(fleet.awaitEnd(demand.id()).state()).isEqualTo(JobState.CANCELLED);
    }

    @Test
    void aRunnerThatGetsNoJobWithinTheIdleTimeoutIsRemovedWithItsVm() {
        fleet().host("h1", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.idle());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().stream().anyMatch(r -> r.online()));
        // The job goes away and Kiln never hears of it: only the idle timeout frees the runner.
        fake.webhooks().dropNext(1);
        fake.cancel(job);

        clock.advance(Duration.ofMinutes(4));
        assertThat(fake.runners()).hasSize(1);
        clock.advance(Duration.ofMinutes(2));

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        assertThat(fleet.awaitEnd(demandsFor(job).getFirst().id()).detail()).contains("took no job within 5 min");
    }

    @Test
    void underARateLimitKilnWaitsThenSucceeds() {
        fleet();
        fake.faults().exhaustPrimaryRateLimit(Duration.ofMinutes(1), 403);
        fleet.host("h1", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.claiming());
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(job).size() == 1);

        JobView done = fleet.awaitEnd(demandsFor(job).getFirst().id());

        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(done.github().conclusion()).isEqualTo("success");
        assertThat(fake.job(job).conclusion()).isEqualTo("success");
    }

    @Test
    void whileGitHubFailsKilnSendsNothingUntilItsBackoffHasPassedThenEveryJobRuns() {
        fleet().host("h1", 8, 16, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.claiming());
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

    @Test
    void threeJobsAtOnceAcrossTwoHostsEachRunOnItsOwnRunnerAndShowWhatRanWhere() {
        fleet();
        fleet.host("h1", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.claiming());
        fleet.host("h2", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.claiming());
        List<Long> jobs = List.of(
                fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("acme", "widgets", "test", List.of("kiln-2cpu-4gb"), "true"),
                fake.queueJob("acme", "widgets", "lint", List.of("kiln-2cpu-4gb"), "true"));

        await().atMost(Duration.ofSeconds(60)).until(() -> jobs.stream().allMatch(j -> demandsFor(j).size() == 1
                && demandsFor(j).getFirst().state().terminal()));

        List<JobView> done = jobs.stream().map(j -> fleet.client.job(demandsFor(j).getFirst().id())).toList();
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
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
    }

    @Test
    void aKilnRunnerWithoutAVmIsRemovedFromGitHubAndOthersAreLeftAlone() {
        fleet().host("h1", 4, 8, Duration.ZERO).vmm().withRunnerGuest(SimulatedRunner.idle());
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
        fleet.host("h1", 16, 32, Duration.ZERO).vmm().withRunnerGuest(runners);
        fleet.host("h2", 16, 32, Duration.ZERO).vmm().withRunnerGuest(runners);
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
    static final class GatedRunners implements SimulatedVmm.RunnerGuest {
        final java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        final Map<String, Integer> mostAtOnce = new java.util.concurrent.ConcurrentHashMap<>();
        private final Map<String, Integer> up = new java.util.HashMap<>();

        @Override
        public int run(dev.kiln.api.VmLaunch launch) throws Exception {
            String owner = SimulatedRunner.scope(launch).split("/")[0];
            synchronized (up) {
                int now = up.merge(owner, 1, Integer::sum);
                mostAtOnce.merge(owner, now, Math::max);
            }
            try {
                go.await();
                return SimulatedRunner.claiming().run(launch);
            } finally {
                synchronized (up) {
                    up.merge(owner, -1, Integer::sum);
                }
            }
        }
    }
}
