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

/**
 * The stores over one real database, with a clock the test moves and helpers that act as agents. Its public
 * methods serve the providers' tests in their own packages.
 */
public final class StoreFixture implements AutoCloseable {
    public final TestingClock clock;
    static final EnvSeal ENVS = new EnvSeal("store-fixture-admin-token");
    final Signals signals = new Signals();
    public final Database db;
    JobStore jobs;
    final HostStore hosts;
    SyncStore sync;
    final SchedulingStore scheduling;
    final LivenessStore liveness;
    final LogStore logs;
    final JobRequests requests = new JobRequests(SizeLabels.defaults(), "default", Duration.ofMinutes(10),
            Duration.ofHours(1));
    final Scheduler scheduler;
    private final Map<String, Long> sequences = new HashMap<>();

    public StoreFixture(String url) {
        this(url, new TestingClock());
    }

    /** A fixture on {@code clock}: replicas of one test share theirs, as servers share the time. */
    public StoreFixture(String url, TestingClock clock) {
        this.clock = clock;
        db = new Database(url, null, null, signals);
        jobs = new JobStore(db, clock, ENVS);
        hosts = new HostStore(db, clock);
        sync = new SyncStore(db, clock, ENVS);
        scheduling = new SchedulingStore(db, clock);
        liveness = new LivenessStore(db, clock);
        logs = new LogStore(db);
        scheduler = new Scheduler(SchedulerConfig.defaults(), clock);
    }

    /** Adds, enrols and reports a host of this size with no VMs. */
    public String host(String name, int vcpus, long memoryGib) {
        String token = hosts.enrol(hosts.add(name).enrolmentToken()).hostToken();
        report(name, vcpus, memoryGib);
        return token;
    }

    /** A fresh report from the host's agent (boot "b1"), with these VMs. */
    public boolean report(String host, int vcpus, long memoryGib, VmReport... vms) {
        long sequence = sequences.merge(host, 1L, Long::sum);
        return sync.apply(host, new AgentReport("b1", sequence, "test", "x86_64", vcpus, memoryGib * 1024, 100, null,
                List.of(vms)));
    }

    public JobView submit(int cpus, long memoryGib, String... command) {
        return jobs.submit(requests.validate(JobRequest.command(List.of(command), cpus, memoryGib * 1024, 10)));
    }

    SchedulingStore.Pass pass() {
        return scheduling.pass(scheduler);
    }

    /** One scheduling pass; how many jobs it placed. */
    public int place() {
        return pass().placed();
    }

    /** The syncs from now on serve the launches of this provider's jobs with its credentials, the views its side. */
    public void serve(Provider provider) {
        sync = new SyncStore(db, clock, Map.of(provider.kind(), provider), ENVS);
        jobs = new JobStore(db, clock, ENVS, Map.of(provider.kind(), provider));
    }

    /**
     * The syncs from now on launch VMs with a debugging shell: the admins' keys, the organisations' in {@code orgKeys}
     * (null for none) and the jobs' own users', with the gateway at {@code gateway}. After {@link #serve}.
     */
    public void sshAccess(List<String> adminKeys, java.nio.file.Path orgKeys, String gateway) {
        sync.sshAccess(new SshAccess(() -> adminKeys, new OrgKeys(orgKeys), gateway));
    }

    /** The provider's VMs that got no credential within its launch deadline give their room back; how many. */
    public int withdrawStalled(Provider provider) {
        return new StalledLaunches(db, clock).withdraw(provider);
    }

    public JobView job(String id) {
        return jobs.get(id);
    }

    public JobView cancel(String id) {
        return jobs.cancel(id);
    }

    public List<JobView> jobs(dev.kiln.core.JobState state, int limit) {
        return jobs.list(state, limit);
    }

    public SyncAnswer desired(String host) {
        return sync.desired(host);
    }

    public static VmReport booting(String vm) {
        return new VmReport(vm, dev.kiln.api.VmState.BOOTING, null, null, null);
    }

    public static VmReport running(String vm) {
        return new VmReport(vm, dev.kiln.api.VmState.RUNNING, null, null, null);
    }

    public static VmReport exited(String vm, int code) {
        return new VmReport(vm, dev.kiln.api.VmState.EXITED, code, null, null);
    }

    @Override
    public void close() {
        db.close();
    }
}
