package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import dev.kiln.core.JobState;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real server and real agents (simulated VMMs): a launch reaching an idle agent and its output, draining (the
 * revoked agent), an agent's restart. The server's side of queueing, refusals, cancels and silent hosts is
 * kiln-server's ServerFleetTest.
 */
@Timeout(120)
class FleetTest {
    @TempDir
    Path dir;
    TestFleet fleet;

    TestFleet fleet(UnaryOperator<dev.kiln.server.ServerConfig> tweak) {
        fleet = new TestFleet(dir, tweak);
        return fleet;
    }

    @AfterEach
    void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    @Test
    void aLaunchReachesAnIdleAgentAndTheJobRunsToItsEndWithItsOutput() {
        fleet(c -> c).host("h1", 4, 8, Duration.ZERO);

        JobView job = fleet.submit(1, 1, "echo", "hello", "fleet");
        JobView done = fleet.awaitEnd(job.id());

        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(done.exitCode()).isZero();
        assertThat(done.timeline()).extracting(JobEvent::state).containsExactly(JobState.QUEUED, JobState.SCHEDULED,
                JobState.STARTING, JobState.RUNNING, JobState.SUCCEEDED);
        LogPage logs = fleet.client.logs(job.id(), 0, Duration.ZERO);
        assertThat(logs.entries()).extracting(LogPage.Entry::text).containsExactly("hello fleet\n");
        assertThat(logs.finished()).isTrue();
        assertThat(fleet.client.vms()).isEmpty();
    }

    @Test
    void aDrainingHostFinishesWhatItRunsTakesNothingNewAndIsThenRemoved() {
        TestFleet.Host h1 = fleet(c -> c).host("h1", 2, 4, Duration.ZERO);
        JobView running = fleet.submit(2, 4, "sleep", "1");
        fleet.awaitState(running.id(), JobState.RUNNING);

        fleet.client.drainHost("h1");
        JobView waiting = fleet.submit(1, 1, "true");

        assertThat(fleet.awaitEnd(running.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fleet.client.job(waiting.id()).state()).isEqualTo(JobState.QUEUED);
        fleet.client.removeHost("h1");
        await().atMost(Duration.ofSeconds(30)).until(() -> h1.agent().failure() != null);
        assertThat(h1.agent().failure().getMessage()).contains("revoked");

        fleet.host("h2", 2, 4, Duration.ZERO);
        assertThat(fleet.awaitEnd(waiting.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fleet.client.job(waiting.id()).host()).isEqualTo("h2");
    }

    @Test
    void aRestartedAgentAdoptsTheVmsItsPredecessorLeftRunning() {
        TestFleet.Host first = fleet(c -> c).host("h1", 4, 8, Duration.ZERO);
        JobView job = fleet.submit(1, 1, "sleep", "2");
        fleet.awaitState(job.id(), JobState.RUNNING);

        first.agent().close();
        TestFleet.Host second = fleet.start("h1", null, 4, 8, Duration.ZERO);

        JobView done = fleet.awaitEnd(job.id());
        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(first.vmm().launches()).hasSize(1);
        assertThat(second.vmm().launches()).as("adopted, not launched again").isEmpty();
    }
}
