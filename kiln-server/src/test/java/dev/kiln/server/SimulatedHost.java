package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.KilnClient;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.testkit.github.RunnerGuest;
import dev.kiln.testkit.github.SimulatedRunner;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A host's agent as the server sees one, over the real protocol (enrolment, then syncs on {@code /api/v1}): each
 * {@link #sync} reports what it runs and takes the answer; a VM it is asked for starts running at once, one the
 * answer no longer holds is stopped. A command's VM ends when the test says ({@link #exit}), so that the server's
 * behaviour is tested step by step without timing; a runner VM runs its {@link RunnerGuest} (it claims a
 * job from the fake GitHub with its JIT config) and ends when the guest returns, or at once without one. Started
 * ({@link #start}), it syncs on its own as an agent does, each sync held by the server until the host's VMs change
 * or a moment passes. The agent's own behaviour (its loop, restarts, real VMs) is kiln-agent's to test.
 */
public final class SimulatedHost implements AutoCloseable {
    private static final Duration HOLD = Duration.ofMillis(200);

    private final String name;
    private final String arch;
    private final List<String> emulatedArches;
    private final int vcpus;
    private final long memoryGib;
    private final AgentClient agent;
    // guarded by this
    private long sequence;
    private final Map<String, VmReport> vms = new TreeMap<>();
    private final Map<String, VmLaunch> launches = new TreeMap<>();
    private final List<String> launched = new ArrayList<>();
    private final Map<String, Thread> guests = new HashMap<>();
    private RunnerGuest runnerGuest;
    /** How VMs launched from now on boot, as the agent reports it; null: they report none (an older agent). */
    private VmReport.Boot boot;
    private long cleanupFailures;
    private volatile Thread syncing;
    private volatile boolean closed;

    private SimulatedHost(String name, String arch, List<String> emulatedArches, int vcpus, long memoryGib, AgentClient agent) {
        this.name = requireNonNull(name, "name is null");
        this.arch = requireNonNull(arch, "arch is null");
        this.emulatedArches = List.copyOf(emulatedArches);
        this.vcpus = vcpus;
        this.memoryGib = memoryGib;
        this.agent = requireNonNull(agent, "agent is null");
    }

    /** Adds the host (as the admin), enrols it and makes its first report, with no VMs. */
    public static SimulatedHost enrol(URI server, KilnClient admin, String name, int vcpus, long memoryGib) {
        return enrol(server, admin, name, "x86_64", List.of(), vcpus, memoryGib);
    }

    /** A host of {@code arch} that also offers {@code emulatedArches} (its operator's {@code --emulate}). */
    public static SimulatedHost enrol(URI server, KilnClient admin, String name, String arch, List<String> emulatedArches,
            int vcpus, long memoryGib) {
        String hostToken = AgentClient.enrol(server, admin.addHost(name).enrolmentToken()).hostToken();
        SimulatedHost host = new SimulatedHost(name, arch, emulatedArches, vcpus, memoryGib, new AgentClient(server, hostToken));
        host.sync();
        return host;
    }

    public String name() {
        return name;
    }

    /** Runner VMs launched from now on run {@code guest} and end when it returns. */
    public synchronized SimulatedHost withRunnerGuest(RunnerGuest guest) {
        this.runnerGuest = requireNonNull(guest, "guest is null");
        return this;
    }

    /** VMs launched from now on report that they booted as {@code boot} says (digest, seconds, phases). */
    public synchronized SimulatedHost withBoot(VmReport.Boot boot) {
        this.boot = boot;
        return this;
    }

    /** Its agent failed to remove {@code count} VMs' resources so far (reported from the next sync on). */
    public synchronized void cleanupFailures(long count) {
        this.cleanupFailures = count;
    }

    /** One exchange: reports its VMs (an ended one once more), then runs what the answer asks for and nothing else. */
    public SyncAnswer sync() {
        return sync(Duration.ZERO);
    }

    private SyncAnswer sync(Duration hold) {
        AgentReport report;
        synchronized (this) {
            report = new AgentReport("sim-boot", ++sequence, "test", arch, vcpus, memoryGib * 1024, 100, null,
                    List.copyOf(vms.values()), emulatedArches, null, cleanupFailures);
        }
        SyncAnswer answer = agent.sync(report, hold);
        converge(answer);
        return answer;
    }

    private synchronized void converge(SyncAnswer answer) {
        Set<String> wanted = new HashSet<>();
        for (VmLaunch launch : answer.vms()) {
            wanted.add(launch.id());
            if (!launches.containsKey(launch.id())) {
                launches.put(launch.id(), launch);
                launched.add(launch.id());
                vms.put(launch.id(), new VmReport(launch.id(), VmState.RUNNING, null, null, null).withBoot(boot));
                if (launch.runnerJitConfig() != null) {
                    runRunner(launch);
                }
            }
        }
        for (String id : List.copyOf(vms.keySet())) {
            if (!wanted.contains(id)) {
                vms.remove(id);
                Thread guest = guests.remove(id);
                if (guest != null) {
                    guest.interrupt(); // stopped: its runner goes with it
                }
            }
        }
    }

    private void runRunner(VmLaunch launch) {
        RunnerGuest guest = runnerGuest;
        if (guest == null) {
            vms.put(launch.id(), new VmReport(launch.id(), VmState.EXITED, 0, null, null));
            return;
        }
        guests.put(launch.id(), Thread.ofVirtual().name("simulated-runner-" + launch.id()).start(() -> {
            VmReport end;
            try {
                end = new VmReport(launch.id(), VmState.EXITED, guest.run(launch.runnerJitConfig()) & 255, null, null);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                end = new VmReport(launch.id(), VmState.FAILED, null, "GUEST_CRASHED", "the simulated runner failed: " + e);
            }
            synchronized (this) {
                if (guests.remove(launch.id()) != null) {
                    vms.put(launch.id(), end);
                }
            }
        }));
    }

    /** Syncs on its own from now on, as an agent does, until closed. */
    public SimulatedHost start() {
        syncing = Thread.ofVirtual().name("simulated-host-" + name).start(() -> {
            while (!closed) {
                try {
                    sync(HOLD);
                } catch (RuntimeException e) {
                    if (closed) {
                        return;
                    }
                }
            }
        });
        return this;
    }

    /** The VM's command exits with {@code code}; the next sync says so. */
    public synchronized void exit(String vm, int code) {
        if (!vms.containsKey(vm)) {
            throw new IllegalStateException("host " + name + " runs no VM " + vm + "; it runs " + vms.keySet());
        }
        vms.put(vm, new VmReport(vm, VmState.EXITED, code, null, null).withBoot(vms.get(vm).boot()));
    }

    /** The VM's command writes {@code text} (one chunk, the {@code sequence}th of the VM) to stdout, as its agent uploads it. */
    public void print(String vm, long sequence, String text) {
        agent.uploadLogs(List.of(new dev.kiln.api.LogChunk(vm, sequence, "stdout", text)));
    }

    /** The VMs it runs now (not ended), by id. */
    public synchronized Set<String> running() {
        Set<String> running = new HashSet<>();
        vms.values().stream().filter(vm -> vm.state() == VmState.RUNNING).forEach(vm -> running.add(vm.id()));
        return running;
    }

    /** What the server asked it to launch, VM by VM. */
    public synchronized Map<String, VmLaunch> launches() {
        return Map.copyOf(launches);
    }

    /** Every VM it ever started, in order. */
    public synchronized List<String> launched() {
        return List.copyOf(launched);
    }

    /** Stops syncing and every runner it runs. */
    @Override
    public void close() {
        closed = true;
        Thread thread = syncing;
        if (thread != null) {
            thread.interrupt();
            try {
                thread.join(Duration.ofSeconds(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            guests.values().forEach(Thread::interrupt);
            guests.clear();
        }
    }
}
