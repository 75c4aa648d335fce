package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobState;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A real server and real agents (simulated VMMs): launches, waiting, draining, silence, restarts. */
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
    void jobsWaitWhileTheFleetIsFullAndStartAsSoonAsRoomFreesEachRunningOnce() {
        TestFleet.Host host = fleet(c -> c).host("h1", 2, 4, Duration.ZERO);
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            jobs.add(fleet.submit(2, 4, "sleep", "0.2").id());
        }

        List<JobView> done = jobs.stream().map(fleet::awaitEnd).toList();

        assertThat(done).allSatisfy(job -> assertThat(job.state()).isEqualTo(JobState.SUCCEEDED));
        // The host holds one such job at a time: each started only after the one before it ended.
        for (int i = 1; i < done.size(); i++) {
            Instant previousEnd = at(done.get(i - 1), JobState.SUCCEEDED);
            assertThat(at(done.get(i), JobState.SCHEDULED)).isAfterOrEqualTo(previousEnd);
        }
        assertThat(host.vmm().launches()).doesNotHaveDuplicates().hasSize(4);
    }

    @Test
    void aJobNoHostCouldEverHoldFailsAtOnceWithTheReason() {
        fleet(c -> c).host("h1", 4, 8, Duration.ZERO);

        JobView done = fleet.awaitEnd(fleet.submit(8, 4, "true").id());

        assertThat(done.state()).isEqualTo(JobState.FAILED);
        assertThat(done.errorCode()).isEqualTo(ErrorCode.INSUFFICIENT_CAPACITY.name());
        assertThat(done.detail()).contains("h1").contains("4 vCPUs");
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
    void cancellingARunningJobStopsItsVmAndFreesItsRoom() {
        fleet(c -> c).host("h1", 2, 4, Duration.ZERO);
        JobView long1 = fleet.submit(2, 4, "sleep", "600");
        fleet.awaitState(long1.id(), JobState.RUNNING);
        JobView next = fleet.submit(2, 4, "true");

        assertThat(fleet.client.cancel(long1.id()).state()).isEqualTo(JobState.CANCELLED);

        assertThat(fleet.awaitEnd(next.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fleet.client.job(long1.id()).state()).isEqualTo(JobState.CANCELLED);
    }

    @Test
    void aHostSilentFor60SecondsIsOfflineItsRunningJobLostAndItsUnstartedJobRunElsewhere() {
        TestFleet.Host h1 = fleet(c -> c.withSyncHold(Duration.ofMillis(200))).host("h1", 4, 8, Duration.ZERO);
        JobView ran = fleet.submit(2, 4, "sleep", "600");
        fleet.awaitState(ran.id(), JobState.RUNNING);
        h1.agent().close(); // the agent goes silent (its simulated VM "keeps running")
        JobView unstarted = fleet.submit(2, 4, "true");
        fleet.awaitState(unstarted.id(), JobState.SCHEDULED);
        fleet.host("h2", 4, 8, Duration.ZERO);

        // Time moves in two steps so that h2, which keeps syncing, is heard from in between.
        fleet.clock.advance(Duration.ofSeconds(31));
        Instant mid = fleet.clock.instant();
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.client.hosts().stream()
                .anyMatch(h -> h.name().equals("h2") && !Instant.parse(h.lastSeen()).isBefore(mid)));
        fleet.clock.advance(Duration.ofSeconds(30));

        JobView lost = fleet.awaitEnd(ran.id());
        assertThat(lost.state()).isEqualTo(JobState.LOST);
        assertThat(lost.detail()).contains("h1 was silent for more than 60 s");
        JobView rerun = fleet.awaitEnd(unstarted.id());
        assertThat(rerun.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(rerun.host()).isEqualTo("h2");
        assertThat(rerun.timeline()).extracting(JobEvent::state).containsSubsequence(JobState.SCHEDULED,
                JobState.QUEUED, JobState.SCHEDULED, JobState.SUCCEEDED);
        assertThat(fleet.client.hosts()).filteredOn(h -> h.name().equals("h1")).singleElement()
                .satisfies(h -> assertThat(h.state()).isEqualTo("OFFLINE"));
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

    private static Instant at(JobView job, JobState state) {
        return job.timeline().stream().filter(e -> e.state() == state).map(e -> Instant.parse(e.at())).findFirst()
                .orElseThrow();
    }
}
