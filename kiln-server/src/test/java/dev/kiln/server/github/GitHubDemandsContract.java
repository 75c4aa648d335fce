package dev.kiln.server.github;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobView;
import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import dev.kiln.core.SizeLabels;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.github.WorkflowJob;
import dev.kiln.github.WorkflowJobEvent;
import dev.kiln.server.DeliveryMemory;
import dev.kiln.server.ProviderContext;
import dev.kiln.server.WebhookOutcomes;
import dev.kiln.server.StoreFixture;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GitHub's demands in the store, on the test clock, against the faithful fake GitHub: one demand per queued
 * job whatever becomes of it, jobs no host can hold wait visibly, invalid labels are recorded, a foreign runner
 * releases the demand, and runner VMs that cannot get a runner give their room back. Run for real against
 * SQLite and PostgreSQL.
 */
@Timeout(120)
abstract class GitHubDemandsContract {
    static final long APP_ID = 6060;
    static final KeyPair KEYS = AppKeys.generate();

    StoreFixture store;
    FakeGitHub fake;
    long acme;
    GitHubApp app;
    GitHubStore github;
    GitHubProvider provider;

    /** A JDBC URL of a new, empty database. */
    abstract String newDatabase();

    @BeforeEach
    void open() {
        store = new StoreFixture(newDatabase());
        fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), store.clock);
        acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("acme", "widgets");
        GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(), Secret.of("demands-secret"),
                fake.url(), fake.url());
        app = new GitHubApp(config, HttpClient.newHttpClient(), store.clock, store.clock::advance);
        provider = new GitHubProvider(GitHubSettings.defaults(app), new ProviderContext(store.db, store.clock,
                SizeLabels.defaults(), name -> name, Duration.ofHours(1),
                new DeliveryMemory(DeliveryMemory.DEFAULT_BYTES, DeliveryMemory.DEFAULT_WAIT), new WebhookOutcomes(), true));
        github = provider.store();
        store.serve(provider);
    }

    @AfterEach
    void close() {
        fake.close();
        store.close();
    }

    /** What a webhook of this action says of the fake's job (the runner named, for in_progress and completed). */
    String deliver(long job, WorkflowJobEvent.Action action, String runnerName, String conclusion) {
        FakeGitHub.JobView j = fake.job(job);
        return github.apply(new WorkflowJob(job, j.runId(), "acme", "widgets", "build", action.wireName(), conclusion,
                j.labels(), runnerName == null ? null : 77L, runnerName, store.clock.instant())
                .asEvent("test", action, 1, "acme", acme));
    }

    List<JobView> demandsFor(long githubJob) {
        return store.jobs(null, 1000).stream().filter(j -> j.github() != null && j.github().jobId() == githubJob).toList();
    }

    @Test
    void aJobNoHostCanHoldKeepsOneWaitingDemandAcrossManyReconcilePeriodsAndRunsOnceAFittingHostEnrols() {
        store.host("small", 4, 8);
        long job = fake.queueJob("acme", "widgets", "big", List.of("kiln-16cpu-32gb"), "true");

        for (int period = 0; period < 20; period++) {
            provider.reconcileQueued();
            store.place();
            store.clock.advance(Duration.ofMinutes(3));
        }

        assertThat(demandsFor(job)).singleElement().satisfies(d -> {
            assertThat(d.state()).isEqualTo(JobState.QUEUED);
            assertThat(d.detail()).contains("waits for a host that can hold it").contains("small");
        });
        JobView shown = store.job(demandsFor(job).getFirst().id());
        assertThat(shown.timeline()).extracting(e -> e.state()).containsOnly(JobState.QUEUED).hasSize(2);

        store.host("large", 32, 64);
        store.place();

        JobView placed = store.job(demandsFor(job).getFirst().id());
        assertThat(placed.state()).isEqualTo(JobState.SCHEDULED);
        assertThat(placed.host()).isEqualTo("large");
        assertThat(placed.detail()).isNull();
    }

    @Test
    void aDemandThatFailedIsNotMadeAgainWhileGitHubSaysTheJobIsQueued() {
        store.host("h1", 4, 8);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        provider.reconcileQueued();
        String first = demandsFor(job).getFirst().id();
        store.cancel(first);

        for (int period = 0; period < 5; period++) {
            store.clock.advance(Duration.ofMinutes(3));
            provider.reconcileQueued();
        }

        assertThat(demandsFor(job)).extracting(JobView::id).containsExactly(first);
    }

    @Test
    void invalidKilnLabelsAreRecordedOnceAsAFailedDemandThatSaysWhyAndLoggedAtInfo() {
        List<List<String>> invalid = List.of(List.of("kiln-999cpu-9999gb"), List.of("kiln-0cpu-0gb"),
                List.of("kiln-2cpu-4gb", "kiln-4cpu-8gb"));
        PrintStream err = System.err;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<Long> jobs = new java.util.ArrayList<>();
        System.setErr(new PrintStream(log, true, StandardCharsets.UTF_8));
        try {
            for (List<String> labels : invalid) {
                long job = fake.queueJob("acme", "widgets", "odd", labels, "true");
                jobs.add(job);
                assertThat(deliver(job, WorkflowJobEvent.Action.QUEUED, null, null)).contains("invalid Kiln labels");
            }
        } finally {
            System.setErr(err);
        }
        for (int period = 0; period < 3; period++) {
            store.clock.advance(Duration.ofMinutes(3));
            provider.reconcileQueued();
        }

        for (int i = 0; i < jobs.size(); i++) {
            assertThat(demandsFor(jobs.get(i))).singleElement().satisfies(d -> {
                assertThat(d.state()).isEqualTo(JobState.FAILED);
                assertThat(d.errorCode()).isEqualTo("INVALID_LABEL");
                assertThat(d.detail()).contains("no runner for GitHub job").contains("acme/widgets");
            });
        }
        assertThat(demandsFor(jobs.get(0)).getFirst().detail()).contains("999 vCPUs is more than the maximum of 64");
        assertThat(demandsFor(jobs.get(2)).getFirst().detail()).contains("kiln-2cpu-4gb").contains("kiln-4cpu-8gb");
        String logged = log.toString(StandardCharsets.UTF_8);
        assertThat(logged.lines().filter(l -> l.contains("INFO") && l.contains("no runner for GitHub job"))).hasSize(3);
        assertThat(fake.requests()).doesNotContainKey("POST /orgs/{org}/actions/runners/generate-jitconfig");
    }

    @Test
    void aJobThatRunsOnARunnerThatIsNotKilnsReleasesItsDemandBeforeAnyRunnerIsMinted() {
        store.host("h1", 4, 8);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        deliver(job, WorkflowJobEvent.Action.QUEUED, null, null);
        store.place();
        JobView scheduled = demandsFor(job).getFirst();
        assertThat(scheduled.state()).isEqualTo(JobState.SCHEDULED);

        String outcome = deliver(job, WorkflowJobEvent.Action.IN_PROGRESS, "acme-own-runner-7", null);

        assertThat(outcome).contains("runs on runner acme-own-runner-7, not one of Kiln's").contains("1 demand(s) released");
        JobView released = store.job(scheduled.id());
        assertThat(released.state()).isEqualTo(JobState.CANCELLED);
        assertThat(released.detail()).contains("acme-own-runner-7");
        assertThat(store.desired("h1").vms()).isEmpty();
        assertThat(store.desired("h1").vms()).isEmpty();
        assertThat(fake.requests()).doesNotContainKey("POST /orgs/{org}/actions/runners/generate-jitconfig");
        assertThat(vmState(scheduled.vm())).isEqualTo(VmState.STOPPING);
    }

    @Test
    void theRunsSenderWithTheKeysGitHubHoldsAndTheOrganisationsKeysMayLogInToItsVmBesideTheAdmins(@TempDir Path orgKeys)
            throws Exception {
        store.host("h1", 8, 16);
        String alice = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAliceAliceAliceAliceAliceAliceAliceAlice0 alice@laptop";
        fake.addUserKey("alice", alice);
        Files.writeString(orgKeys.resolve("acme"), "# acme's on-call\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnCall oncall\n");
        Files.writeString(orgKeys.resolve("other"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther other\n");
        store.sshAccess(List.of("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdmin admin"), orgKeys, "gw.example.org:2222");
        // Through the webhook's own payload, which names who triggered the run (the reconciler's jobs do not).
        long byAlice = queueThroughWebhook("alice");
        long byBob = queueThroughWebhook("bob"); // no keys at GitHub: 404
        store.place();

        List<dev.kiln.api.VmLaunch> launches = store.desired("h1").vms();
        assertThat(launches).hasSize(2);
        dev.kiln.api.VmLaunch aliceVm = launches.stream().filter(l -> l.job().equals(demandsFor(byAlice).getFirst().id()))
                .findFirst().orElseThrow();
        dev.kiln.api.VmLaunch bobVm = launches.stream().filter(l -> l.job().equals(demandsFor(byBob).getFirst().id()))
                .findFirst().orElseThrow();
        assertThat(aliceVm.sshAuthorizedKeys()).containsExactly("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdmin admin",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnCall oncall", alice);
        assertThat(aliceVm.env()).containsEntry("KILN_SSH_USER", "alice").containsEntry("KILN_JOB_ID", aliceVm.job())
                .containsEntry("KILN_SSH_GATEWAY", "gw.example.org:2222");
        assertThat(bobVm.runnerJitConfig()).as("a user without keys still gets the runner").isNotNull();
        assertThat(bobVm.sshAuthorizedKeys()).containsExactly("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAdmin admin",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnCall oncall");
        assertThat(bobVm.env()).containsEntry("KILN_SSH_USER", "bob");
        assertThat(fake.requests()).containsKeys("GET /users/alice/keys", "GET /users/bob/keys");
    }

    /** Queues a job that {@code sender} triggered and applies its {@code queued} webhook as the fake sent it. */
    private long queueThroughWebhook(String sender) {
        fake.webhooks().dropNext(1);
        long job = fake.queueJobBy(sender, "acme", "widgets", "debug", List.of("kiln-2cpu-4gb"), "kiln-debug");
        dev.kiln.testkit.github.FakeWebhooks.Delivery sent = fake.webhooks().deliveries().getLast();
        WorkflowJobEvent queued = (WorkflowJobEvent) dev.kiln.github.WebhookEvents.parse("workflow_job", sent.guid(), sent.body());
        assertThat(queued.sender()).isEqualTo(sender);
        assertThat(github.apply(queued)).contains("queued: demand");
        return job;
    }

    @Test
    void aJobCompletedOnAnotherRunnerRemovesKilnsIdleRunnerAndItsVm() {
        store.host("h1", 4, 8);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        deliver(job, WorkflowJobEvent.Action.QUEUED, null, null);
        store.place();
        JobView demand = demandsFor(job).getFirst();
        assertThat(store.desired("h1").vms()).singleElement().satisfies(vm -> assertThat(vm.runnerJitConfig()).isNotNull());
        assertThat(fake.runners()).hasSize(1);

        String outcome = deliver(job, WorkflowJobEvent.Action.COMPLETED, "acme-own-runner-7", "success");
        provider.reap();

        assertThat(outcome).contains("completed (success) on runner acme-own-runner-7, not one of Kiln's")
                .contains("1 runner(s) to remove");
        assertThat(fake.runners()).isEmpty();
        assertThat(store.job(demand.id()).state()).isEqualTo(JobState.CANCELLED);
        assertThat(store.job(demand.id()).detail()).contains("its demand went away");
        assertThat(vmState(demand.vm())).isEqualTo(VmState.STOPPING);
    }

    @Test
    void whileGitHubIsUnreachableRunnerVmsGiveTheirRoomBackAndAPlainJobIsNotStarved() {
        store.host("h1", 4, 8);
        provider.reconcileQueued(); // the installation's token and repositories, before GitHub fails
        fake.faults().failNext(1_000_000, 503);
        long first = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        long second = fake.queueJob("acme", "widgets", "test", List.of("kiln-2cpu-4gb"), "true");
        deliver(first, WorkflowJobEvent.Action.QUEUED, null, null);
        deliver(second, WorkflowJobEvent.Action.QUEUED, null, null);
        assertThat(store.place()).isEqualTo(2);
        assertThat(store.desired("h1").vms()).as("no runner can be minted: no launch").isEmpty();
        JobView plain = store.submit(2, 4, "true");
        store.place();
        assertThat(store.job(plain.id()).state()).as("the host is full of runner VMs").isEqualTo(JobState.QUEUED);

        store.clock.advance(Duration.ofMinutes(2));
        store.desired("h1");
        assertThat(store.withdrawStalled(provider)).isEqualTo(2);
        store.place();

        assertThat(store.job(plain.id()).state()).isEqualTo(JobState.SCHEDULED);
        for (long job : List.of(first, second)) {
            JobView demand = demandsFor(job).getFirst();
            assertThat(demand.state()).isEqualTo(JobState.QUEUED);
            assertThat(demand.detail()).contains("had no runner").contains("GitHub is unavailable").contains("not before 30 s");
        }
        store.clock.advance(Duration.ofSeconds(10));
        assertThat(store.place()).as("the demands wait out their backoff").isZero();

        fake.faults().failNext(0, 503);
        store.clock.advance(Duration.ofMinutes(15)); // past the demands' backoff and the App's own
        String plainVm = store.job(plain.id()).vm();
        store.report("h1", 4, 8, StoreFixture.exited(plainVm, 0));
        assertThat(store.place()).isEqualTo(2);
        assertThat(store.desired("h1").vms()).hasSize(2).allSatisfy(vm -> assertThat(vm.runnerJitConfig()).isNotNull());
    }

    @Test
    void storedDeliveriesArePrunedAfterTheRetention() {
        assertThat(github.store("old-1", "workflow_job", "queued", null, "{}".getBytes(StandardCharsets.UTF_8))).isTrue();
        assertThat(github.store("old-2", "ping", null, null, new byte[] {0, (byte) 0xff})).isTrue();
        store.clock.advance(GitHubSettings.DEFAULT_DELIVERY_RETENTION.minusHours(1));
        assertThat(github.store("new-1", "workflow_job", "queued", null, "{}".getBytes(StandardCharsets.UTF_8))).isTrue();
        provider.prune();
        assertThat(deliveries()).containsExactlyInAnyOrder("old-1", "old-2", "new-1");

        store.clock.advance(Duration.ofHours(2));
        provider.prune();

        assertThat(deliveries()).containsExactly("new-1");
    }

    List<String> deliveries() {
        return store.db.tx(tx -> tx.query("SELECT id FROM github_deliveries", row -> row.getString(1)));
    }

    VmState vmState(String vm) {
        return store.db.tx(tx -> tx.queryOne("SELECT state FROM vms WHERE id = ?", row -> VmState.valueOf(row.getString(1)), vm))
                .orElseThrow();
    }
}
