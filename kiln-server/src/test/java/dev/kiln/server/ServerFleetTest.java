package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobState;
import dev.kiln.testkit.TestingClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server's side of a fleet, over its real API and sync protocol, with hosts played step by step
 * ({@link SimulatedHost}) and time moved by the test's clock: queueing while the fleet is full, a job no host can
 * hold, cancelling, and a silent host going offline. (The agent's side of these is kiln-agent's FleetTest.)
 */
@Timeout(120)
class ServerFleetTest {
    static final String ADMIN = "server-fleet-admin-token-0123456789";

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock();
    KilnServer server;
    KilnClient client;

    @BeforeEach
    void start() {
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0).withLiveness(Duration.ofSeconds(60), Duration.ofMillis(50)), clock);
        client = new KilnClient(server.uri(), ADMIN);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    SimulatedHost host(String name, int vcpus, long memoryGib) {
        return SimulatedHost.enrol(server.uri(), client, name, vcpus, memoryGib);
    }

    JobView submit(int cpus, long memoryGib, String... command) {
        return client.submit(JobRequest.command(List.of(command), cpus, memoryGib * 1024, 10));
    }

    /** Waits (the scheduling loop runs on its own thread) while the host keeps syncing, as an agent does. */
    void syncUntil(SimulatedHost host, BooleanSupplier done) {
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            host.sync();
            return done.getAsBoolean();
        });
    }

    /** The job's VM on the host, once the host was told to launch it. */
    String launchOf(SimulatedHost host, String job) {
        syncUntil(host, () -> host.launches().values().stream().anyMatch(l -> l.job().equals(job)));
        return host.launches().values().stream().filter(l -> l.job().equals(job)).findFirst().orElseThrow().id();
    }

    JobView end(SimulatedHost host, String job, int code) {
        host.exit(launchOf(host, job), code);
        syncUntil(host, () -> client.job(job).state().terminal());
        return client.job(job);
    }

    @Test
    void jobsWaitWhileTheFleetIsFullAndStartAsSoonAsRoomFreesEachRunningOnce() {
        SimulatedHost host = host("h1", 2, 4);
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            jobs.add(submit(2, 4, "sleep", "0.2").id());
        }

        List<JobView> done = new ArrayList<>();
        for (int i = 0; i < jobs.size(); i++) {
            String vm = launchOf(host, jobs.get(i));
            // The host holds one such job at a time: when one is launched, those before it ended and the rest wait.
            for (int j = 0; j < jobs.size(); j++) {
                assertThat(client.job(jobs.get(j)).state()).as("job " + j + " when job " + i + " is launched")
                        .isEqualTo(j < i ? JobState.SUCCEEDED : j == i ? client.job(jobs.get(i)).state() : JobState.QUEUED);
            }
            host.exit(vm, 0);
            String job = jobs.get(i);
            syncUntil(host, () -> client.job(job).state().terminal());
            done.add(client.job(job));
        }

        assertThat(done).allSatisfy(job -> assertThat(job.state()).isEqualTo(JobState.SUCCEEDED));
        // The host holds one such job at a time: each started only after the one before it ended.
        for (int i = 1; i < done.size(); i++) {
            Instant previousEnd = at(done.get(i - 1), JobState.SUCCEEDED);
            assertThat(at(done.get(i), JobState.SCHEDULED)).isAfterOrEqualTo(previousEnd);
            assertThat(client.job(jobs.get(i)).timeline()).extracting(JobEvent::state).containsExactly(JobState.QUEUED,
                    JobState.SCHEDULED, JobState.STARTING, JobState.RUNNING, JobState.SUCCEEDED);
        }
        assertThat(host.launched()).doesNotHaveDuplicates().hasSize(4);
    }

    @Test
    void aJobNoHostCouldEverHoldFailsAtOnceWithTheReason() {
        host("h1", 4, 8);

        String job = submit(8, 4, "true").id();
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(job).state().terminal());

        JobView done = client.job(job);
        assertThat(done.state()).isEqualTo(JobState.FAILED);
        assertThat(done.errorCode()).isEqualTo(ErrorCode.INSUFFICIENT_CAPACITY.name());
        assertThat(done.detail()).contains("h1").contains("4 vCPUs");
    }

    @Test
    void cancellingARunningJobStopsItsVmAndFreesItsRoom() {
        SimulatedHost host = host("h1", 2, 4);
        JobView long1 = submit(2, 4, "sleep", "600");
        String vm = launchOf(host, long1.id());
        syncUntil(host, () -> client.job(long1.id()).state() == JobState.RUNNING);
        JobView next = submit(2, 4, "true");

        assertThat(client.cancel(long1.id()).state()).isEqualTo(JobState.CANCELLED);

        syncUntil(host, () -> !host.running().contains(vm));
        assertThat(end(host, next.id(), 0).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(client.job(long1.id()).state()).isEqualTo(JobState.CANCELLED);
        assertThat(client.job(long1.id()).errorCode()).isEqualTo(ErrorCode.CANCELLED.name());
    }

    @Test
    void aHostSilentFor60SecondsIsOfflineItsRunningJobLostAndItsUnstartedJobRunElsewhere() {
        SimulatedHost h1 = host("h1", 4, 8);
        JobView ran = submit(2, 4, "sleep", "600");
        launchOf(h1, ran.id());
        syncUntil(h1, () -> client.job(ran.id()).state() == JobState.RUNNING);
        // h1 goes silent: the test syncs it no more (its VM "keeps running").
        JobView unstarted = submit(2, 4, "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(unstarted.id()).state() == JobState.SCHEDULED);
        SimulatedHost h2 = host("h2", 4, 8);

        // Time moves in two steps so that h2, which keeps syncing, is heard from in between.
        clock.advance(Duration.ofSeconds(31));
        h2.sync();
        clock.advance(Duration.ofSeconds(30));

        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(ran.id()).state().terminal());
        JobView lost = client.job(ran.id());
        assertThat(lost.state()).isEqualTo(JobState.LOST);
        assertThat(lost.detail()).contains("h1 was silent for more than 60 s");
        JobView rerun = end(h2, unstarted.id(), 0);
        assertThat(rerun.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(rerun.host()).isEqualTo("h2");
        assertThat(rerun.timeline()).extracting(JobEvent::state).containsSubsequence(JobState.SCHEDULED,
                JobState.QUEUED, JobState.SCHEDULED, JobState.SUCCEEDED);
        assertThat(client.hosts()).filteredOn(h -> h.name().equals("h1")).singleElement()
                .satisfies(h -> assertThat(h.state()).isEqualTo("OFFLINE"));
    }

    private static Instant at(JobView job, JobState state) {
        return job.timeline().stream().filter(e -> e.state() == state).map(e -> Instant.parse(e.at())).findFirst()
                .orElseThrow();
    }
}
