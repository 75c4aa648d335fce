package dev.kiln.server;

import static dev.kiln.server.StoreFixture.booting;
import static dev.kiln.server.StoreFixture.exited;
import static dev.kiln.server.StoreFixture.running;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.api.AgentReport;
import dev.kiln.api.JobEvent;
import dev.kiln.api.JobView;
import dev.kiln.api.LogChunk;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What the store must do on every database it supports; run for real against SQLite and PostgreSQL. */
abstract class StoreContract {
    StoreFixture store;

    /** A JDBC URL of a new, empty database. */
    abstract String newDatabase();

    @BeforeEach
    void open() {
        store = new StoreFixture(newDatabase());
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    @Test
    void aSubmittedJobIsQueuedWithItsTimeline() {
        JobView job = store.submit(2, 4, "echo", "hi");

        JobView read = store.jobs.get(job.id());
        assertThat(read.state()).isEqualTo(JobState.QUEUED);
        assertThat(read.command()).containsExactly("echo", "hi");
        assertThat(read.cpus()).isEqualTo(2);
        assertThat(read.memoryMib()).isEqualTo(4096);
        assertThat(read.timeline()).extracting(JobEvent::state).containsExactly(JobState.QUEUED);
        assertThat(store.jobs.list(JobState.QUEUED, 10)).extracting(JobView::id).containsExactly(job.id());
        assertThat(store.jobs.list(JobState.RUNNING, 10)).isEmpty();
    }

    @Test
    void aPassReservesTheJobOnAHostBeforeTheAgentHearsOfIt() {
        store.host("h1", 8, 16);
        JobView job = store.submit(2, 4, "true");

        SchedulingStore.Pass pass = store.pass();

        assertThat(pass.placed()).isEqualTo(1);
        JobView scheduled = store.jobs.get(job.id());
        assertThat(scheduled.state()).isEqualTo(JobState.SCHEDULED);
        assertThat(scheduled.host()).isEqualTo("h1");
        List<VmLaunch> desired = store.desired("h1").vms();
        assertThat(desired).singleElement().satisfies(vm -> {
            assertThat(vm.id()).isEqualTo(scheduled.vm());
            assertThat(vm.job()).isEqualTo(job.id());
            assertThat(vm.command()).containsExactly("true");
            assertThat(vm.memoryMib()).isEqualTo(4096);
        });
    }

    @Test
    void reportsMoveTheJobThroughItsLifecycleAndAnEndFreesTheRoom() {
        store.host("h1", 4, 8);
        JobView first = store.submit(4, 8, "true");
        JobView second = store.submit(4, 8, "true");
        store.pass();
        String vm = store.jobs.get(first.id()).vm();
        assertThat(store.jobs.get(second.id()).state()).as("the host is full").isEqualTo(JobState.QUEUED);

        store.report("h1", 4, 8, booting(vm));
        assertThat(store.jobs.get(first.id()).state()).isEqualTo(JobState.STARTING);
        store.report("h1", 4, 8, running(vm));
        assertThat(store.jobs.get(first.id()).state()).isEqualTo(JobState.RUNNING);
        store.report("h1", 4, 8, exited(vm, 0));

        JobView done = store.jobs.get(first.id());
        assertThat(done.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(done.exitCode()).isZero();
        assertThat(done.timeline()).extracting(JobEvent::state).containsExactly(JobState.QUEUED, JobState.SCHEDULED,
                JobState.STARTING, JobState.RUNNING, JobState.SUCCEEDED);
        assertThat(store.desired("h1").vms()).isEmpty();
        store.pass();
        assertThat(store.jobs.get(second.id()).state()).as("room freed").isEqualTo(JobState.SCHEDULED);
    }

    @Test
    void aVmsBootIsKeptOnceAsFirstReportedAndTheScrapeCountsItFromTheStore() throws Exception {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "true");
        JobView other = store.submit(1, 1, "true");
        store.pass();
        String vm = store.jobs.get(job.id()).vm();
        String otherVm = store.jobs.get(other.id()).vm();
        String digest = "sha256:" + "c".repeat(64);
        dev.kiln.api.VmReport.Boot boot = new dev.kiln.api.VmReport.Boot(digest, 2.25,
                java.util.Map.of("init", 0.5, "network", 1.0, "unknown-phase", 1.5));
        store.report("h1", 4, 8, booting(vm), booting(otherVm));
        assertThat(store.jobs.get(job.id()).imageDigest()).as("not booted yet").isNull();
        store.report("h1", 4, 8, running(vm).withBoot(boot), booting(otherVm));
        assertThat(store.jobs.get(job.id()).imageDigest()).isEqualTo(digest);
        // Later reports repeat the boot (or, from a confused agent, change it): the first is kept.
        store.report("h1", 4, 8, running(vm).withBoot(new dev.kiln.api.VmReport.Boot("sha256:" + "d".repeat(64), 9,
                java.util.Map.of())), booting(otherVm));
        store.report("h1", 4, 8, exited(vm, 0).withBoot(boot), booting(otherVm));
        assertThat(store.jobs.get(job.id()).imageDigest()).isEqualTo(digest);
        assertThat(store.jobs.list(null, 10)).filteredOn(j -> j.id().equals(job.id())).extracting(JobView::imageDigest)
                .containsExactly(digest);
        assertThat(store.jobs.get(other.id()).imageDigest()).isNull();

        Metrics metrics = new Metrics(store.db, store.hosts, new WebhookOutcomes(), List.of());
        java.io.ByteArrayOutputStream text = new java.io.ByteArrayOutputStream();
        io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter.create().write(text, metrics.scrape());
        java.util.Map<String, Double> m = MetricsScrape.samples(text.toString(java.nio.charset.StandardCharsets.UTF_8));
        assertThat(m).containsEntry("kiln_vm_boot_seconds_count", 1.0).containsEntry("kiln_vm_boot_seconds_sum", 2.25)
                .containsEntry("kiln_vm_boot_seconds_bucket{le=\"2.0\"}", 0.0)
                .containsEntry("kiln_vm_boot_seconds_bucket{le=\"3.0\"}", 1.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"init\"}", 1.0)
                .containsEntry("kiln_vm_boot_phase_seconds_sum{phase=\"network\"}", 1.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"dockerd\"}", 0.0)
                .containsEntry("kiln_host_vms{host=\"h1\"}", 0.0);
        assertThat(m.keySet()).as("a phase Kiln does not know adds no label value").noneMatch(k -> k.contains("unknown-phase"));
    }

    @Test
    void aNonZeroExitFailsTheJobWithItsCode() {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "false");
        store.pass();
        String vm = store.jobs.get(job.id()).vm();

        store.report("h1", 4, 8, exited(vm, 3));

        JobView failed = store.jobs.get(job.id());
        assertThat(failed.state()).isEqualTo(JobState.FAILED);
        assertThat(failed.exitCode()).isEqualTo(3);
        assertThat(failed.detail()).contains("exited with 3");
    }

    @Test
    void aRepeatedOrLateReportChangesNothing() {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "true");
        store.pass();
        String vm = store.jobs.get(job.id()).vm();
        AgentReport exitedReport = new AgentReport("b1", 10, "test", "x86_64", 4, 8192, 100, null, List.of(exited(vm, 0)));
        AgentReport lateRunning = new AgentReport("b1", 9, "test", "x86_64", 4, 8192, 100, null, List.of(running(vm)));
        AgentReport lateEmpty = new AgentReport("b1", 8, "test", "x86_64", 4, 8192, 100, null, List.of());

        assertThat(store.sync.apply("h1", exitedReport)).isTrue();
        JobView after = store.jobs.get(job.id());
        assertThat(store.sync.apply("h1", exitedReport)).as("duplicate").isFalse();
        assertThat(store.sync.apply("h1", lateRunning)).as("late").isFalse();
        assertThat(store.sync.apply("h1", lateEmpty)).as("late").isFalse();

        JobView now = store.jobs.get(job.id());
        assertThat(now.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(now.timeline()).isEqualTo(after.timeline());
        // Even a fresh report that repeats an old state cannot move the job backwards.
        store.report("h1", 4, 8, running(vm));
        assertThat(store.jobs.get(job.id()).timeline()).isEqualTo(after.timeline());
    }

    @Test
    void aJobNoHostCouldEverHoldFailsAtOnceNamingTheLargestHost() {
        store.host("small", 4, 8);
        store.host("large", 16, 32);
        JobView job = store.submit(2, 64, "true");

        store.pass();

        JobView failed = store.jobs.get(job.id());
        assertThat(failed.state()).isEqualTo(JobState.FAILED);
        assertThat(failed.errorCode()).isEqualTo(ErrorCode.INSUFFICIENT_CAPACITY.name());
        assertThat(failed.detail()).contains("large").contains("32 GiB");
    }

    @Test
    void jobsWaitWhileTheFleetIsFullAndDrainedHostsTakeNone() {
        store.host("h1", 2, 4);
        JobView a = store.submit(2, 4, "true");
        JobView b = store.submit(2, 4, "true");
        store.pass();
        assertThat(store.jobs.get(b.id()).state()).isEqualTo(JobState.QUEUED);

        store.hosts.drain("h1", true);
        store.report("h1", 2, 4, exited(store.jobs.get(a.id()).vm(), 0));
        store.pass();
        assertThat(store.jobs.get(b.id()).state()).as("draining").isEqualTo(JobState.QUEUED);

        store.hosts.drain("h1", false);
        store.pass();
        assertThat(store.jobs.get(b.id()).state()).isEqualTo(JobState.SCHEDULED);
    }

    @Test
    void aSilentHostGoesOfflineItsRunningJobsAreLostAndUnstartedOnesQueuedAgain() {
        store.host("h1", 4, 8);
        JobView ran = store.submit(2, 4, "sleep", "100");
        JobView booting = store.submit(1, 1, "true");
        JobView pending = store.submit(1, 1, "true");
        store.pass();
        String ranVm = store.jobs.get(ran.id()).vm();
        store.report("h1", 4, 8, running(ranVm), booting(store.jobs.get(booting.id()).vm()));

        store.clock.advance(Duration.ofSeconds(59));
        assertThat(store.liveness.markSilentHostsOffline(Duration.ofSeconds(60))).isEmpty();
        store.clock.advance(Duration.ofSeconds(2));
        assertThat(store.liveness.markSilentHostsOffline(Duration.ofSeconds(60))).containsExactly("h1");
        assertThat(store.liveness.markSilentHostsOffline(Duration.ofSeconds(60))).as("once").isEmpty();

        assertThat(store.jobs.get(ran.id()).state()).isEqualTo(JobState.LOST);
        assertThat(store.jobs.get(ran.id()).errorCode()).isEqualTo("JOB_LOST");
        assertThat(store.jobs.get(booting.id()).state()).isEqualTo(JobState.QUEUED);
        assertThat(store.jobs.get(pending.id()).state()).isEqualTo(JobState.QUEUED);
        assertThat(store.hosts.get("h1").state()).isEqualTo("OFFLINE");

        store.host("h2", 4, 8);
        store.pass();
        assertThat(store.jobs.get(booting.id()).host()).isEqualTo("h2");
        assertThat(store.jobs.get(pending.id()).host()).isEqualTo("h2");

        // h1 comes back still running the lost VM: nothing changes, and h1 is not asked to keep it.
        store.report("h1", 4, 8, running(ranVm));
        assertThat(store.jobs.get(ran.id()).state()).isEqualTo(JobState.LOST);
        assertThat(store.hosts.get("h1").state()).isEqualTo("ACTIVE");
        assertThat(store.desired("h1").vms()).isEmpty();
    }

    @Test
    void anAgentRestartRequeuesBootingVmsAndLosesRunningOnesItNoLongerHas() {
        store.host("h1", 4, 8);
        JobView ran = store.submit(1, 1, "true");
        JobView booted = store.submit(1, 1, "true");
        JobView pending = store.submit(1, 1, "true");
        store.pass();
        String ranVm = store.jobs.get(ran.id()).vm();
        String bootedVm = store.jobs.get(booted.id()).vm();
        store.report("h1", 4, 8, running(ranVm), booting(bootedVm));

        store.sync.apply("h1", new AgentReport("b2", 1, "test", "x86_64", 4, 8192, 100, null, List.of()));

        assertThat(store.jobs.get(ran.id()).state()).isEqualTo(JobState.LOST);
        assertThat(store.jobs.get(booted.id()).state()).isEqualTo(JobState.QUEUED);
        assertThat(store.jobs.get(pending.id()).state()).as("never reached the agent").isEqualTo(JobState.SCHEDULED);
    }

    @Test
    void cancellingAQueuedJobEndsItAndARunningOneStopsItsVm() {
        store.host("h1", 4, 8);
        JobView running = store.submit(4, 8, "sleep", "100");
        JobView queued = store.submit(4, 8, "true");
        store.pass();
        String vm = store.jobs.get(running.id()).vm();
        store.report("h1", 4, 8, running(vm));

        assertThat(store.jobs.cancel(queued.id()).state()).isEqualTo(JobState.CANCELLED);
        assertThat(store.jobs.cancel(running.id()).state()).isEqualTo(JobState.CANCELLED);
        assertThat(store.jobs.cancel(running.id()).state()).as("again").isEqualTo(JobState.CANCELLED);
        assertThat(store.desired("h1").vms()).as("the agent stops it").isEmpty();

        JobView another = store.submit(4, 8, "true");
        store.pass();
        assertThat(store.jobs.get(another.id()).state()).as("room still held").isEqualTo(JobState.QUEUED);
        store.report("h1", 4, 8, new dev.kiln.api.VmReport(vm, VmState.FAILED, null, "CANCELLED", "cancelled"));
        store.pass();
        assertThat(store.jobs.get(another.id()).state()).isEqualTo(JobState.SCHEDULED);
        assertThat(store.jobs.get(running.id()).state()).isEqualTo(JobState.CANCELLED);
        assertThatThrownBy(() -> store.jobs.cancel(store.submit(99, 1, "x").id()))
                .isInstanceOf(KilnException.class).hasMessageContaining("cpus must be from 1 to 64");
    }

    @Test
    void anEnrolmentTokenWorksOnceAndOnlyItsHashIsStored() {
        String token = store.hosts.add("h1").enrolmentToken();

        assertThat(store.hosts.enrol(token).host()).isEqualTo("h1");
        assertThatThrownBy(() -> store.hosts.enrol(token)).isInstanceOf(KilnException.class)
                .hasMessageContaining("used already")
                .extracting(e -> ((KilnException) e).code()).isEqualTo(ErrorCode.UNAUTHENTICATED);
        assertThatThrownBy(() -> store.hosts.authenticate("kiln-host-wrong")).isInstanceOf(KilnException.class)
                .hasMessageContaining("unknown or was revoked");
        long plain = store.db.tx(tx -> tx.queryLong("SELECT COUNT(*) FROM hosts WHERE token_hash = ? OR enrolment_hash = ?",
                token, token));
        assertThat(plain).isZero();
    }

    @Test
    void aHostIsRemovedOnlyOnceDrainedAndEmptyAndItsTokenDiesWithIt() {
        String token = store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "true");
        store.pass();

        assertThatThrownBy(() -> store.hosts.remove("h1")).hasMessageContaining("drain it first");
        store.hosts.drain("h1", true);
        assertThatThrownBy(() -> store.hosts.remove("h1")).hasMessageContaining("still has 1 VM");
        store.report("h1", 4, 8, exited(store.jobs.get(job.id()).vm(), 0));
        store.hosts.remove("h1");

        assertThat(store.hosts.list()).isEmpty();
        assertThatThrownBy(() -> store.hosts.authenticate(token)).hasMessageContaining("revoked");
    }

    @Test
    void logChunksAreKeptInOrderAndAResentChunkOnce() {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "echo");
        store.pass();
        String vm = store.jobs.get(job.id()).vm();

        store.logs.append("h1", List.of(new LogChunk(vm, 0, "stdout", "one\n"), new LogChunk(vm, 1, "stderr", "two\n")));
        store.logs.append("h1", List.of(new LogChunk(vm, 1, "stderr", "two\n"), new LogChunk(vm, 2, "stdout", "three\n")));
        store.logs.append("h2", List.of(new LogChunk(vm, 3, "stdout", "not h2's\n")));

        var page = store.logs.read(job.id(), 0);
        assertThat(page.entries()).extracting(e -> e.stream() + ":" + e.text())
                .containsExactly("stdout:one\n", "stderr:two\n", "stdout:three\n");
        assertThat(page.finished()).isFalse();
        assertThat(store.logs.read(job.id(), page.next()).entries()).isEmpty();
        store.report("h1", 4, 8, exited(vm, 0));
        assertThat(store.logs.read(job.id(), page.next()).finished()).isTrue();
    }
}
