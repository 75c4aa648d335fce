package dev.kiln.server;

import dev.kiln.api.AgentReport;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmReport;
import dev.kiln.core.Scheduler;
import dev.kiln.core.SchedulerConfig;
import dev.kiln.core.SizeLabels;
import dev.kiln.testkit.TestingClock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** The stores over one real database, with a clock the test moves and helpers that act as agents. */
final class StoreFixture implements AutoCloseable {
    final TestingClock clock = new TestingClock();
    static final EnvSeal ENVS = new EnvSeal("store-fixture-admin-token");
    final Signals signals = new Signals();
    final Database db;
    final JobStore jobs;
    final HostStore hosts;
    final SyncStore sync;
    final SchedulingStore scheduling;
    final LivenessStore liveness;
    final LogStore logs;
    final JobRequests requests = new JobRequests(SizeLabels.defaults(), "default", Duration.ofMinutes(10),
            Duration.ofHours(1));
    final Scheduler scheduler = new Scheduler(SchedulerConfig.defaults(), clock);
    private final Map<String, Long> sequences = new HashMap<>();

    StoreFixture(String url) {
        db = new Database(url, null, null, signals);
        jobs = new JobStore(db, clock, ENVS);
        hosts = new HostStore(db, clock);
        sync = new SyncStore(db, clock, ENVS);
        scheduling = new SchedulingStore(db, clock);
        liveness = new LivenessStore(db, clock);
        logs = new LogStore(db);
    }

    /** Adds, enrols and reports a host of this size with no VMs. */
    String host(String name, int vcpus, long memoryGib) {
        String token = hosts.enrol(hosts.add(name).enrolmentToken()).hostToken();
        report(name, vcpus, memoryGib);
        return token;
    }

    /** A fresh report from the host's agent (boot "b1"), with these VMs. */
    boolean report(String host, int vcpus, long memoryGib, VmReport... vms) {
        long sequence = sequences.merge(host, 1L, Long::sum);
        return sync.apply(host, new AgentReport("b1", sequence, "test", "x86_64", vcpus, memoryGib * 1024, 100, null,
                List.of(vms)));
    }

    JobView submit(int cpus, long memoryGib, String... command) {
        return jobs.submit(requests.validate(JobRequest.command(List.of(command), cpus, memoryGib * 1024, 10)));
    }

    SchedulingStore.Pass pass() {
        return scheduling.pass(scheduler);
    }

    SyncAnswer desired(String host) {
        return sync.desired(host);
    }

    static VmReport booting(String vm) {
        return new VmReport(vm, dev.kiln.api.VmState.BOOTING, null, null, null);
    }

    static VmReport running(String vm) {
        return new VmReport(vm, dev.kiln.api.VmState.RUNNING, null, null, null);
    }

    static VmReport exited(String vm, int code) {
        return new VmReport(vm, dev.kiln.api.VmState.EXITED, code, null, null);
    }

    @Override
    public void close() {
        db.close();
    }
}
