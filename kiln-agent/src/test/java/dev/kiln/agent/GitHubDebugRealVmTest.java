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
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code kiln-debug} in a GitHub job on the fake, with a real VM of the runner image and the real OpenSSH client: the
 * step pauses the job and prints how to connect; the user who triggered the run connects through the server's
 * gateway with the key the fake's {@code /users/NAME/keys} holds for them, runs {@code kiln-debug continue} and
 * disconnects; the job then completes. Another GitHub user's key is refused. The session is recorded under the
 * user's login, and nothing is left on the host.
 * Boots the runner test image with kiln-debug ({@code -Dkiln.test.image.runner-test=NAME} names another build of it).
 */
@Tag("vm")
@Timeout(600)
class GitHubDebugRealVmTest {
    static final String IMAGE = System.getProperty("kiln.test.image.runner-test", "runner-test");
    static final long APP_ID = 4343;
    static final String SECRET = "webhook-secret-for-debug-tests";
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

    @Test
    void theUserWhoTriggeredTheRunDebugsThePausedJobWithTheirGitHubKeyAndTheJobThenCompletes() throws Exception {
        RealHosts.requireImage(IMAGE);
        Path admin = OpenSsh.keyPair(dir, "admin");
        Path alice = OpenSsh.keyPair(dir, "alice");
        Path bob = OpenSsh.keyPair(dir, "bob");
        fake.addUserKey("alice", Files.readString(OpenSsh.publicKey(alice)));
        fake.addUserKey("bob", Files.readString(OpenSsh.publicKey(bob)));
        fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("acme", "widgets");
        GitHubApp app = new GitHubApp(GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(), Secret.of(SECRET),
                fake.url(), fake.url()), HttpClient.newHttpClient(), clock, clock::advance);
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(admin)));
        fleet = new TestFleet(dir, c -> c.withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)),
                new ImageStore(RealHosts.IMAGES), clock, GitHubProvider.factories(GitHubSettings.defaults(app)
                        .withRunnerImage(IMAGE).withTick(Duration.ofMillis(100))),
                new SshGateway.Config("127.0.0.1", 0, dir.resolve("gateway-host-key"), authorized));
        fake.webhooks().sendTo(fleet.server.uri().resolve("/webhooks/github"), SECRET);
        hosts = new RealHosts(fleet);
        RealHosts.Host host = hosts.add("h1", 7, false);
        fake.serveRunnersAt(host.lab().exposeOnInternet(fake.url().getPort()));

        long job = fake.queueJobBy("alice", "acme", "widgets", "debug", List.of("kiln-1cpu-1gb"),
                "echo before the pause\nkiln-debug --timeout 10m\necho after the pause");
        await().atMost(Duration.ofSeconds(60)).until(() -> !demandsFor(job).isEmpty());
        String demand = demandsFor(job).getFirst().id();
        await().atMost(Duration.ofSeconds(300)).until(() -> log(demand).contains("is paused for debugging"));
        JobSsh ssh = fleet.client.jobSsh(demand);
        assertThat(log(demand)).contains("before the pause")
                .contains("ssh -J alice@127.0.0.1:" + ssh.gatewayPort() + " runner@" + demand)
                .contains("kiln ssh " + demand)
                .doesNotContain("after the pause");
        Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + ssh.gatewayPort() + " " + ssh.gatewayHostKey()
                + "\n" + demand + " " + ssh.hostKey() + "\n");

        OpenSsh.Result other = ssh(bob, "bob", ssh.gatewayPort(), demand, "true");
        assertThat(other.code()).as(other.output()).isEqualTo(255);
        assertThat(other.output()).contains("open failed: administratively prohibited");

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

    private List<JobView> demandsFor(long githubJob) {
        return fleet.client.jobs(null, 1000).stream().filter(j -> j.github() != null && j.github().jobId() == githubJob).toList();
    }

    private String log(String job) {
        return fleet.client.logs(job, 0, Duration.ZERO).entries().stream().map(LogPage.Entry::text)
                .collect(Collectors.joining());
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
