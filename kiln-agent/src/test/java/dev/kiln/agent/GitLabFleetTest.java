package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.server.gitlab.GitLabProvider;
import dev.kiln.server.gitlab.GitLabSettings;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.SimulatedGitLabRunner;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GitLab end to end through a real server and agent on a simulated VMM: a Job Hook makes a demand, the demand's VM is
 * placed and launches with a runner made for it in the job's project (its token sealed in the store), the VM's
 * runner takes the job from FakeGitLab and reports it, the demand concludes with GitLab's status and the runner is
 * deleted from GitLab once the VM ends.
 */
@Timeout(120)
class GitLabFleetTest {
    static final String SECRET = "gitlab-hook-secret";

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    final FakeGitLab fake = FakeGitLab.start(clock);
    TestFleet fleet;

    TestFleet fleet() {
        fake.addGroup("acme");
        fake.addProject("acme/widgets");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme", "kiln-bot", FakeGitLab.Role.OWNER);
        GitLabConfig config = new GitLabConfig(fake.url(), fake.url(), fake.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api"),
                SECRET, List.of(), List.of("acme"));
        GitLabSettings settings = GitLabSettings.defaults(config, new GitLabClient(config, HttpClient.newHttpClient(), clock::advance))
                .withTick(Duration.ofMillis(50));
        fleet = new TestFleet(dir, c -> c.withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)), null, clock,
                List.of(GitLabProvider.factory(settings)));
        fake.hooks().sendTo(fleet.server.uri().resolve("/webhooks/gitlab"), SECRET);
        return fleet;
    }

    @AfterEach
    void close() {
        if (fleet != null) {
            fleet.close();
        }
        fake.close();
    }

    List<JobView> demands() {
        return fleet.client.jobs(null, 1000).stream().filter(j -> j.kind().equals("gitlab")).toList();
    }

    @Test
    void aTaggedJobRunsOnARunnerMadeForItsVmConcludesAsGitLabSaysAndTheRunnerIsDeleted() throws Exception {
        fleet().host("h1", 4, 16, Duration.ZERO).vmm().withRunnerGuest(launch -> new SimulatedGitLabRunner().run(launch.runnerJitConfig()));
        long job = fake.queueJob("acme/widgets", "build", List.of("kiln-2cpu-4gb"), "make");

        await().atMost(Duration.ofSeconds(60)).until(() -> demands().size() == 1 && demands().getFirst().state().terminal());
        JobView demand = fleet.client.job(demands().getFirst().id());
        assertThat(demand.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(demand.cpus()).isEqualTo(2);
        assertThat(demand.host()).isEqualTo("h1");
        assertThat(demand.timeline()).extracting(e -> e.detail()).anySatisfy(d -> assertThat(d).contains("took GitLab job " + job))
                .anySatisfy(d -> assertThat(d).isEqualTo("GitLab job " + job + " success"));
        FakeGitLab.JobView ran = fake.job(job);
        assertThat(ran.status()).isEqualTo("success");
        assertThat(ran.trace()).isEqualTo("simulated runner ran job " + job + "\n");

        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        assertThat(fake.requests()).containsEntry("POST /user/runners", 1L).containsEntry("DELETE /runners/:id", 1L);
        // The runner's token was stored sealed only, and is gone with its VM.
        String store = Files.readString(dir.resolve("kiln.db"), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertThat(store).doesNotContain("glrt-");
    }

    @Test
    void aJobCanceledBeforeItsRunnerTookItReleasesItsDemandStopsItsVmAndDeletesItsRunner() {
        // A runner that never asks for work: the VM stays up until Kiln stops it.
        fleet().host("h1", 4, 16, Duration.ZERO).vmm().withRunnerGuest(launch -> {
            Thread.sleep(Long.MAX_VALUE);
            return 0;
        });
        long job = fake.queueJob("acme/widgets", "build", List.of("kiln-2cpu-4gb"), "make");
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().size() == 1);

        fake.cancel(job);

        await().atMost(Duration.ofSeconds(30)).until(() -> demands().getFirst().state() == JobState.CANCELLED);
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.runners().isEmpty() && fleet.client.vms().isEmpty());
        assertThat(fake.job(job).runnerId()).isNull();
    }
}
