package dev.kiln.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A queue and hosts that take a scheduler's decisions, as the server would, for multi-pass tests. */
final class Simulation {
    private final Map<HostId, Host> hosts = new LinkedHashMap<>();
    private final Map<JobId, PendingJob> queue = new LinkedHashMap<>();

    Simulation(List<Host> hosts) {
        hosts.forEach(host -> this.hosts.put(host.id(), host));
    }

    void enqueue(PendingJob job) {
        queue.put(job.id(), job);
    }

    List<PendingJob> queue() {
        return List.copyOf(queue.values());
    }

    List<Host> hosts() {
        return List.copyOf(hosts.values());
    }

    /** Reserves each placement on its host and drops rejected jobs from the queue. */
    void apply(SchedulingResult result) {
        for (SchedulingResult.Placement placement : result.placements()) {
            PendingJob job = queue.remove(placement.job());
            Host host = hosts.get(placement.host());
            hosts.put(host.id(), host.withAllocation(new Allocation(job.id(), job.size(), job.org(), job.repo())));
        }
        result.rejections().forEach(rejection -> queue.remove(rejection.job()));
    }

    boolean isRunning(JobId job) {
        return hosts.values().stream().anyMatch(h -> h.allocations().stream().anyMatch(a -> a.job().equals(job)));
    }

    /** Ends the longest-running job on every host. */
    void finishOldestOnEachHost() {
        hosts.replaceAll((id, host) -> host.allocations().isEmpty() ? host : replaceAllocations(host,
                host.allocations().subList(1, host.allocations().size())));
    }

    void finish(JobId job) {
        hosts.replaceAll((id, host) -> replaceAllocations(host,
                host.allocations().stream().filter(a -> !a.job().equals(job)).toList()));
    }

    void setState(HostId id, HostState state) {
        hosts.computeIfPresent(id, (ignored, host) -> host.withState(state));
    }

    private static Host replaceAllocations(Host host, List<Allocation> allocations) {
        return new Host(host.id(), host.arch(), host.vcpus(), host.memoryMib(), host.diskGib(), host.labels(),
                host.state(), new ArrayList<>(allocations));
    }
}
