package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobSsh;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import dev.kiln.api.SshSessionView;
import dev.kiln.core.JobState;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.images.ImageStore;
import dev.kiln.server.github.GitHubProvider;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.server.ssh.SshGateway;
import dev.kiln.testkit.Closing;
import dev.kiln.testkit.OpenSsh;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GitHub Actions end to end with real VMs: a real server with the App on the faithful fake GitHub, two
 * hosts whose agents boot the runner test image under QEMU, each in a network lab of its own. In each
 * VM the image's stand-in runner reads its JIT config from the config drive, reaches the fake through
 * NAT (the fake is exposed on the labs' "internet" host), claims a queued job, runs its script in the
 * VM and reports it, as GitHub's runner would. With the server's SSH gateway, {@code kiln-debug} in a job pauses it
 * until the user who triggered the run (with the key the fake's {@code /users/NAME/keys} holds for them) has
 * connected, said {@code kiln-debug continue} and disconnected; another user's key is refused.
 */
@Tag("vm")
@Timeout(600)
class GitHubRealVmTest {
    /** {@code -Dkiln.test.image.runner-test=NAME} boots another build of the image. */
    static final String IMAGE = System.getProperty("kiln.test.image.runner-test", "runner-test");
    static final long APP_ID = 4242;
    static final String SECRET = "webhook-secret-for-real-vm-tests";
    static final KeyPair KEYS = AppKeys.generate();

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), clock);
    TestFleet fleet;
    RealHosts hosts;

    @AfterEach
    void close() {
        Closing.all(fleet, hosts, fake);
    }

    /** The server, the App installed on acme, and {@code count} real hosts whose VMs reach the fake. */
    void fleetWithHosts(int count) {
        fleetWithHosts(count, null);
    }

    /** The same with the SSH gateway {@code ssh} describes (null: none). */
    void fleetWithHosts(int count, SshGateway.Config ssh) {
        RealHosts.requireImage(IMAGE);
        fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("acme", "widgets");
        GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(),
                Secret.of(SECRET), fake.url(), fake.url());
        GitHubApp app = new GitHubApp(config, HttpClient.newHttpClient(), clock, clock::advance);
        // Hosts are never silent here: the tests move the clock by minutes, which no agent's sync keeps up with.
        fleet = new TestFleet(dir, c -> c.withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)),
                new ImageStore(RealHosts.IMAGES), clock, GitHubProvider.factories(GitHubSettings.defaults(app)
                        .withRunnerImage(IMAGE).withTick(Duration.ofMillis(100))), ssh);
        fake.webhooks().sendTo(fleet.server.uri().resolve("/webhooks/github"), SECRET);
        hosts = new RealHosts(fleet);
        for (int i = 1; i <= count; i++) {
            hosts.add("h" + i, i, false);
        }
        // Each lab's "internet" host forwards to the fake, at the same address in every lab.
        hosts.all().stream().map(h -> h.lab().exposeOnInternet(fake.url().getPort())).distinct()
                .forEach(fake::serveRunnersAt);
    }

    List<JobView> demandsFor(long githubJob) {
        return fleet.client.jobs(null, 1000).stream().filter(j -> j.github() != null && j.github().jobId() == githubJob).toList();
    }

    String log(JobView job) {
        return fleet.client.logs(job.id(), 0, Duration.ZERO).entries().stream().map(LogPage.Entry::text)
                .collect(Collectors.joining());
    }

    @Test
    void threeJobsAcrossTwoHostsRunInTheirOwnVmsDespiteADroppedADuplicatedWebhookAndARateLimit() {
        fleetWithHosts(2);
        java.time.Instant start = clock.instant();
        fake.faults().exhaustPrimaryRateLimit(Duration.ofMinutes(1), 403);
        fake.webhooks().dropNext(1);
        long build = fake.queueJob("acme", "widgets", "build", List.of("kiln-1cpu-1gb"),
                "echo \"build ran as $(id -un) on $(hostname)\"");
        fake.webhooks().duplicateNext(1);
        long test = fake.queueJob("acme", "widgets", "test", List.of("kiln-1cpu-1gb"), "echo test ran; test -d /proc/1");
        long lint = fake.queueJob("acme", "widgets", "lint", List.of("kiln-1cpu-1gb"), "echo lint found a problem; exit 1");
        List<Long> jobs = List.of(build, test, lint);
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.webhooks().idle() && demandsFor(test).size() == 1
                && demandsFor(lint).size() == 1);
        assertThat(demandsFor(build)).as("its queued webhook was dropped").isEmpty();

        // The reconciler runs every 3 minutes: it finds the job GitHub has queued and Kiln does not.
        clock.advance(Duration.ofMinutes(3));
        await().atMost(Duration.ofSeconds(30)).until(() -> demandsFor(build).size() == 1);
        await().atMost(Duration.ofSeconds(500)).until(() -> jobs.stream()
                .allMatch(j -> demandsFor(j).getFirst().state().terminal()));

        Map<Long, JobView> done = jobs.stream().collect(Collectors.toMap(Function.identity(),
                j -> fleet.client.job(demandsFor(j).getFirst().id())));
        assertThat(demandsFor(test)).as("the duplicated delivery made one demand").hasSize(1);
        // The App sleeps on the test clock: beyond the 3 minutes moved here, Kiln waited out the limit's reset.
        assertThat(Duration.between(start, clock.instant())).isGreaterThanOrEqualTo(Duration.ofMinutes(4));
        assertThat(done.values()).allSatisfy(d -> {
            assertThat(d.github().runnerName()).isEqualTo(GitHubApp.runnerName(d.vm()));
            assertThat(d.github().ranJobId()).isIn(jobs);
            assertThat(d.host()).isIn("h1", "h2");
        });
        assertThat(done.values()).extracting(d -> d.github().ranJobId()).as("each job ran once, on a runner of its own")
                .containsExactlyInAnyOrderElementsOf(jobs);
        assertThat(done.values()).extracting(JobView::host).contains("h1", "h2");
        // The result comes from GitHub's conclusion of the job the runner ran, not from the runner's exit code (0).
        for (JobView demand : done.values()) {
            long ran = demand.github().ranJobId();
            String conclusion = ran == lint ? "failure" : "success";
            assertThat(demand.github().conclusion()).isEqualTo(conclusion);
            assertThat(demand.state()).isEqualTo(ran == lint ? JobState.FAILED : JobState.SUCCEEDED);
            assertThat(fake.job(ran).conclusion()).isEqualTo(conclusion);
            assertThat(fake.job(ran).runnerName()).isEqualTo(demand.github().runnerName());
        }
        JobView buildDemand = done.values().stream().filter(d -> d.github().ranJobId() == build).findFirst().orElseThrow();
        assertThat(fake.job(build).output()).as("the script ran inside the VM as the runner user")
                .contains("build ran as runner on kiln-");
        assertThat(log(buildDemand)).contains("build ran as runner on kiln-");
        assertThat(fake.job(lint).exitCode()).isEqualTo(1);

        await().atMost(Duration.ofSeconds(60)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        hosts.assertNothingLeft(done.values().stream().map(JobView::vm).toList());
    }

    @Test
    void aJobCancelledBeforePickupLeavesNoVmAndNoRunner() {
        fleetWithHosts(1);
        long job = fake.queueJob("acme", "widgets", "build", List.of("kiln-1cpu-1gb"), "echo should never run");
        // The JIT runner is registered once a host is reserved.
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().size() == 1);

        // The guest takes many seconds to boot under emulation: the job is cancelled before its runner connects.
        fake.cancel(job);

        JobView demand = fleet.awaitEnd(demandsFor(job).getFirst().id());
        assertThat(demand.state()).isEqualTo(JobState.CANCELLED);
        await().atMost(Duration.ofSeconds(120)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        assertThat(fake.job(job).runnerName()).isNull();
        assertThat(fake.job(job).exitCode()).as("no runner ran it").isNull();
        hosts.assertNothingLeft(List.of(demand.vm()));
    }

    @Test
    void theUserWhoTriggeredTheRunDebugsThePausedJobWithTheirGitHubKeyAndTheJobThenCompletes() throws Exception {
        Path admin = OpenSsh.keyPair(dir, "admin");
        Path alice = OpenSsh.keyPair(dir, "alice");
        Path bob = OpenSsh.keyPair(dir, "bob");
        fake.addUserKey("alice", Files.readString(OpenSsh.publicKey(alice)));
        fake.addUserKey("bob", Files.readString(OpenSsh.publicKey(bob)));
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(admin)));
        fleetWithHosts(1, new SshGateway.Config("127.0.0.1", 0, dir.resolve("gateway-host-key"), authorized));

        long job = fake.queueJobBy("alice", "acme", "widgets", "debug", List.of("kiln-1cpu-1gb"),
                "echo before the pause\nkiln-debug --timeout 10m\necho after the pause");
        await().atMost(Duration.ofSeconds(60)).until(() -> !demandsFor(job).isEmpty());
        String demand = demandsFor(job).getFirst().id();
        await().atMost(Duration.ofSeconds(300)).until(() -> log(fleet.client.job(demand)).contains("is paused for debugging"));
        JobSsh ssh = fleet.client.jobSsh(demand);
        assertThat(log(fleet.client.job(demand))).contains("before the pause")
                .contains("ssh -J alice@127.0.0.1:" + ssh.gatewayPort() + " runner@" + demand)
                .contains("kiln ssh " + demand)
                .doesNotContain("after the pause");
        Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + ssh.gatewayPort() + " " + ssh.gatewayHostKey()
                + "\n" + demand + " " + ssh.hostKey() + "\n");

        // Bob's key is GitHub's too, but no running job grants it: not even the gateway lets it in.
        OpenSsh.Result other = ssh(bob, "bob", ssh.gatewayPort(), demand, "true");
        assertThat(other.code()).as(other.output()).isEqualTo(255);
        assertThat(other.output()).contains("bob@127.0.0.1: Permission denied");

        OpenSsh.Result session = ssh(alice, "alice", ssh.gatewayPort(), demand,
                "echo \"$(id -un) on $(hostname)\"; kiln-debug continue");
        assertThat(session.code()).as(session.output()).isZero();
        assertThat(session.output()).contains("runner on kiln-").contains("the job continues once you disconnect");

        await().atMost(Duration.ofSeconds(180)).until(() -> fleet.client.job(demand).state().terminal());
        JobView done = fleet.client.job(demand);
        assertThat(done.state()).as(done.toString()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fake.job(job).conclusion()).isEqualTo("success");
        assertThat(fake.job(job).output()).contains("continued by the user, who has disconnected")
                .contains("after the pause");

        List<SshSessionView> sessions = fleet.client.jobSsh(demand).sessions();
        assertThat(sessions).singleElement().satisfies(s -> {
            assertThat(s.user()).as("recorded as the GitHub login the key belongs to").isEqualTo("alice");
            assertThat(s.endedAt()).isNotNull();
        });
        await().atMost(Duration.ofSeconds(60)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        hosts.assertNothingLeft(List.of(done.vm()));
    }

    /** {@code ssh -J USER@GATEWAY runner@JOB COMMAND} with this key alone, both hops' host keys checked strictly. */
    private OpenSsh.Result ssh(Path key, String user, int port, String job, String command) {
        String options = "-o IdentitiesOnly=yes -o UserKnownHostsFile=" + dir.resolve("known_hosts")
                + " -o StrictHostKeyChecking=yes -o BatchMode=yes -i " + key;
        return OpenSsh.run(List.of("ssh", "-i", key.toString(), "-o", "IdentitiesOnly=yes",
                "-o", "UserKnownHostsFile=" + dir.resolve("known_hosts"), "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "ProxyCommand=ssh " + options + " -p " + port + " -W %h:%p " + user + "@127.0.0.1",
                "runner@" + job, command));
    }
}
