package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.KilnClient;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A host's agent as the server sees one, played step by step by a test over the real protocol (enrolment, then
 * syncs on {@code /api/v1}): each {@link #sync} reports what it runs and takes the answer; a VM it is asked for
 * starts running at once, one the answer no longer holds is stopped. A VM ends when the test says
 * ({@link #exit}), so that the server's behaviour is tested without timing. The agent's own behaviour (its loop,
 * long polls, restarts, real VMs) is kiln-agent's to test.
 */
public final class SimulatedHost {
    private final String name;
    private final int vcpus;
    private final long memoryGib;
    private final AgentClient agent;
    private long sequence;
    private final Map<String, VmReport> vms = new TreeMap<>();
    private final Map<String, VmLaunch> launches = new TreeMap<>();
    private final List<String> launched = new ArrayList<>();

    private SimulatedHost(String name, int vcpus, long memoryGib, AgentClient agent) {
        this.name = requireNonNull(name, "name is null");
        this.vcpus = vcpus;
        this.memoryGib = memoryGib;
        this.agent = requireNonNull(agent, "agent is null");
    }

    /** Adds the host (as the admin), enrols it and makes its first report, with no VMs. */
    public static SimulatedHost enrol(URI server, KilnClient admin, String name, int vcpus, long memoryGib) {
        String hostToken = AgentClient.enrol(server, admin.addHost(name).enrolmentToken()).hostToken();
        SimulatedHost host = new SimulatedHost(name, vcpus, memoryGib, new AgentClient(server, hostToken));
        host.sync();
        return host;
    }

    public String name() {
        return name;
    }

    /** One exchange: reports its VMs (an ended one once more), then runs what the answer asks for and nothing else. */
    public SyncAnswer sync() {
        AgentReport report = new AgentReport("sim-boot", ++sequence, "test", "x86_64", vcpus, memoryGib * 1024, 100, null,
                List.copyOf(vms.values()));
        SyncAnswer answer = agent.sync(report, Duration.ZERO);
        Set<String> wanted = new HashSet<>();
        for (VmLaunch launch : answer.vms()) {
            wanted.add(launch.id());
            if (!launches.containsKey(launch.id())) {
                launches.put(launch.id(), launch);
                launched.add(launch.id());
                vms.put(launch.id(), new VmReport(launch.id(), VmState.RUNNING, null, null, null));
            }
        }
        vms.keySet().removeIf(id -> !wanted.contains(id));
        return answer;
    }

    /** The VM's command exits with {@code code}; the next sync says so. */
    public void exit(String vm, int code) {
        if (!vms.containsKey(vm)) {
            throw new IllegalStateException("host " + name + " runs no VM " + vm + "; it runs " + vms.keySet());
        }
        vms.put(vm, new VmReport(vm, VmState.EXITED, code, null, null));
    }

    /** The VMs it runs now (not ended), by id. */
    public Set<String> running() {
        Set<String> running = new HashSet<>();
        vms.values().stream().filter(vm -> vm.state() == VmState.RUNNING).forEach(vm -> running.add(vm.id()));
        return running;
    }

    /** What the server asked it to launch, VM by VM. */
    public Map<String, VmLaunch> launches() {
        return Map.copyOf(launches);
    }

    /** Every VM it ever started, in order. */
    public List<String> launched() {
        return List.copyOf(launched);
    }
}
