package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A host as the scheduler sees it: what it has, whether it takes jobs, and the jobs reserved or running
 * on it.
 *
 * @param arch the host's arch; never {@link Arch#ANY}
 * @param vcpus the physical vCPUs jobs may use (over-commit is the scheduler's setting, not the host's)
 * @param memoryMib the memory jobs may use, without what the host keeps for itself
 * @param diskGib the scratch disk jobs may use
 * @param labels the host's own labels, shown to users; placement does not read them yet
 */
public record Host(HostId id, Arch arch, int vcpus, long memoryMib, int diskGib, Set<String> labels,
        HostState state, List<Allocation> allocations) {
    public Host {
        requireNonNull(id, "id is null");
        requireNonNull(arch, "arch is null");
        requireNonNull(state, "state is null");
        labels = Set.copyOf(requireNonNull(labels, "labels is null"));
        allocations = List.copyOf(requireNonNull(allocations, "allocations is null"));
        if (arch == Arch.ANY) {
            throw new IllegalArgumentException("host " + id + " must have a concrete arch (x86_64 or arm64), not any");
        }
        if (vcpus < 1 || memoryMib < 1 || diskGib < 1) {
            throw new IllegalArgumentException("host " + id + " must have at least 1 vCPU, 1 MiB memory and 1 GiB"
                    + " disk, got " + vcpus + " vCPUs, " + memoryMib + " MiB and " + diskGib + " GiB");
        }
        Set<JobId> seen = new HashSet<>();
        for (Allocation allocation : allocations) {
            if (!seen.add(allocation.job())) {
                throw new IllegalArgumentException("host " + id + " lists job " + allocation.job() + " twice");
            }
        }
    }

    /** An empty, active host with no labels. */
    public static Host active(HostId id, Arch arch, int vcpus, long memoryMib, int diskGib) {
        return new Host(id, arch, vcpus, memoryMib, diskGib, Set.of(), HostState.ACTIVE, List.of());
    }

    public long reservedVcpus() {
        return allocations.stream().mapToLong(a -> a.size().vcpus()).sum();
    }

    public long reservedMemoryMib() {
        return allocations.stream().mapToLong(a -> a.size().memoryMib()).sum();
    }

    public long reservedDiskGib() {
        return allocations.stream().mapToLong(a -> a.size().diskGib()).sum();
    }

    /** Whether a job of this size fits the host when the host is empty: arch, vCPUs, memory and disk. */
    public boolean couldEverHold(Size size) {
        return size.arch().runsOn(arch) && size.vcpus() <= vcpus && size.memoryMib() <= memoryMib
                && size.diskGib() <= diskGib;
    }

    public Host withState(HostState newState) {
        return new Host(id, arch, vcpus, memoryMib, diskGib, labels, newState, allocations);
    }

    public Host withAllocation(Allocation allocation) {
        List<Allocation> more = new ArrayList<>(allocations);
        more.add(requireNonNull(allocation, "allocation is null"));
        return new Host(id, arch, vcpus, memoryMib, diskGib, labels, state, more);
    }
}
