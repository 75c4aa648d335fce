package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM's clean stop: no more launches, running VMs finish or are stopped at the deadline, no job lost. */
class AgentDrainTest {
    @TempDir
    Path dir;

    @Test
    void aDrainLetsTheRunningJobFinishAndTakesNoMoreLaunches() throws Exception {
        try (TestFleet fleet = new TestFleet(dir, config -> config)) {
            TestFleet.Host host = fleet.host("h1", 4, 8, Duration.ZERO);
            JobView running = fleet.submit(1, 1, "sleep", "2");
            fleet.awaitState(running.id(), JobState.RUNNING);

            Thread drain = Thread.ofVirtual().start(() -> host.agent().drain(Duration.ofMinutes(5)));
            JobView later = fleet.submit(1, 1, "echo", "late");

            drain.join(Duration.ofMinutes(2));
            assertThat(drain.isAlive()).as("the drain returned once the job ended").isFalse();
            assertThat(fleet.client.job(running.id()).state()).isEqualTo(JobState.SUCCEEDED);
            // Submitted during the drain: never launched on the draining host, so still the server's to place.
            assertThat(fleet.client.job(later.id()).state()).isIn(JobState.QUEUED, JobState.SCHEDULED);
        }
    }

    @Test
    void aVmStillRunningAtTheDeadlineIsStoppedAndItsJobEnds() throws Exception {
        try (TestFleet fleet = new TestFleet(dir, config -> config)) {
            TestFleet.Host host = fleet.host("h1", 4, 8, Duration.ZERO);
            JobView job = fleet.submit(1, 1, "sleep", "3600");
            fleet.awaitState(job.id(), JobState.RUNNING);

            host.agent().drain(Duration.ofMillis(200));

            JobView ended = fleet.client.job(job.id());
            assertThat(ended.state().terminal()).as("job %s after the drain: %s", job.id(), ended).isTrue();
            assertThat(ended.state()).isNotEqualTo(JobState.SUCCEEDED);
        }
    }
}
