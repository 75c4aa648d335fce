package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.core.Size;
import dev.kiln.core.SizeLabels;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.gitlab.GitLabProvider;
import dev.kiln.server.gitlab.GitLabSettings;
import dev.kiln.testkit.Closing;
import dev.kiln.testkit.NetworkLab;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.images.ImageStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
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
 * GitLab CI end to end with real VMs: a real server with the GitLab provider on FakeGitLab, a host whose agent boots
 * the runner test image under QEMU in a network lab. Each VM's gitlab-runner (the image's stand-in) gets the runner
 * made for it through the config drive, reaches the fake through NAT, takes one job, runs its script in the VM with
 * the shell executor, streams the trace and reports GitLab's status; the runner is deleted and the VM gone afterwards.
 * {@code -Dkiln.test.image.runner-test=NAME} boots another build of the image.
 */
@Tag("vm")
@Timeout(600)
class GitLabRealVmTest {
    static final String IMAGE = System.getProperty("kiln.test.image.runner-test", "runner-test");
    static final String SECRET = "gitlab-hook-secret";

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitLab fake = FakeGitLab.start(clock);
    TestFleet fleet;
    RealHosts hosts;

    @AfterEach
    void close() {
        Closing.all(fleet, hosts, fake);
    }

    /** The server serving acme/widgets, and one real host (1 vCPU, 1.5 GiB) whose VMs reach the fake. */
    void fleetWithHost() {
        RealHosts.requireImage(IMAGE);
        fake.addGroup("acme");
        fake.addProject("acme/widgets");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        String token = fake.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api");
        // The VMs reach the fake on the labs' "internet" host, which forwards to it (exposeOnInternet below).
        URI runnerUrl = URI.create("http://" + NetworkLab.INTERNET_ADDRESS + ":" + NetworkLab.FORWARDED_PORT);
        GitLabConfig config = new GitLabConfig(fake.url(), runnerUrl, token, SECRET, List.of("acme/widgets"), List.of());
        GitLabSettings settings = GitLabSettings.defaults(config, new GitLabClient(config, HttpClient.newHttpClient(), clock::advance))
                .withRunnerImage(IMAGE).withTick(Duration.ofMillis(100));
        // The bare tag `kiln` asks for the default size: here one that the test host holds.
        SizeLabels labels = new SizeLabels("kiln", Size.of(1, 1, 8, Arch.X86_64), 64, 256);
        // Hosts are never silent here: the test moves the clock by minutes, which no agent's sync keeps up with.
        fleet = new TestFleet(dir, c -> new ServerConfig(c.databaseUrl(), c.databaseUser(), c.databasePassword(), c.bindAddress(),
                c.port(), c.adminToken(), Duration.ofDays(1), c.syncHold(), Duration.ofSeconds(1), c.schedulingInterval(),
                c.scheduler(), labels, c.defaultImage(), c.defaultTimeout(), c.maxTimeout()),
                new ImageStore(RealHosts.IMAGES), clock, List.of(GitLabProvider.factory(settings)));
        fake.hooks().sendTo(fleet.server.uri().resolve("/webhooks/gitlab"), SECRET);
        hosts = new RealHosts(fleet);
        hosts.add("h1", 1, false);
        assertThat(hosts.all().getFirst().lab().exposeOnInternet(fake.url().getPort())).isEqualTo(runnerUrl);
    }

    List<JobView> demandsFor(long gitlabJob) {
        return fleet.client.jobs(null, 1000).stream().filter(j -> j.kind().equals("gitlab"))
                .filter(j -> fleet.client.job(j.id()).timeline().getFirst().detail().contains("GitLab job " + gitlabJob + " (")).toList();
    }

    @Test
    void jobsTaggedKilnRunInVmsOnRunnersOfTheirOwnAndADroppedHookIsCaughtByTheReconcile() {
        fleetWithHost();
        fake.hooks().dropNext(2); // the created and pending hooks of the first job
        long build = fake.queueJob("acme/widgets", "build", List.of("kiln"), "echo \"built as $(id -un) on $(hostname)\"\ntest -d /proc/1");
        long lint = fake.queueJob("acme/widgets", "lint", List.of("kiln"), "echo lint found a problem\nexit 3");
        await().atMost(Duration.ofSeconds(60)).until(() -> fake.hooks().idle() && demandsFor(lint).size() == 1);
        assertThat(demandsFor(build)).as("its hooks were dropped").isEmpty();

        // The reconcile runs every minute on the server's clock: it finds the pending job Kiln has no demand for.
        clock.advance(Duration.ofMinutes(1));
        await().atMost(Duration.ofSeconds(60)).until(() -> demandsFor(build).size() == 1);
        List<Long> jobs = List.of(build, lint);
        await().atMost(Duration.ofSeconds(500)).until(() -> jobs.stream().allMatch(j -> demandsFor(j).getFirst().state().terminal()));

        Map<Long, JobView> done = jobs.stream().collect(Collectors.toMap(Function.identity(), j -> fleet.client.job(demandsFor(j).getFirst().id())));
        // A runner takes any pending job its tags cover: each job ran once, on one runner, and each demand ended as
        // GitLab says the job its runner took ended.
        assertThat(fake.job(build).status()).isEqualTo("success");
        assertThat(fake.job(lint).status()).isEqualTo("failed");
        assertThat(fake.job(lint).exitCode()).isEqualTo(3);
        assertThat(fake.job(build).runnerId()).isNotEqualTo(fake.job(lint).runnerId());
        assertThat(done.values()).extracting(JobView::state).containsExactlyInAnyOrder(JobState.SUCCEEDED, JobState.FAILED);
        assertThat(fake.job(build).trace()).as("the script ran inside the VM as the runner user")
                .contains("$ echo \"built as $(id -un) on $(hostname)\"\nbuilt as runner on kiln-", "Job succeeded");
        assertThat(fake.job(lint).trace()).contains("lint found a problem\n", "ERROR: Job failed: exit status 3");

        await().atMost(Duration.ofSeconds(120)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        hosts.assertNothingLeft(done.values().stream().map(JobView::vm).toList());
    }
}
