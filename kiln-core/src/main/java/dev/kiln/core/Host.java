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
 * @param arch the host's own arch, which its VMs run natively; never {@link Arch#ANY}
 * @param vcpus the physical vCPUs jobs may use (over-commit is the scheduler's setting, not the host's)
 * @param memoryMib the memory jobs may use, without what the host keeps for itself
 * @param diskGib the scratch disk jobs may use
 * @param labels the host's own labels, shown to users; placement does not read them yet
 * @param emulated the other arches whose VMs the host runs under emulation, because its operator said so
 *     (several times slower: never offered silently)
 */
public record Host(HostId id, Arch arch, int vcpus, long memoryMib, int diskGib, Set<String> labels,
        HostState state, List<Allocation> allocations, Set<Arch> emulated) {
    /** A host that runs its own arch only. */
    public Host(HostId id, Arch arch, int vcpus, long memoryMib, int diskGib, Set<String> labels, HostState state,
            List<Allocation> allocations) {
        this(id, arch, vcpus, memoryMib, diskGib, labels, state, allocations, Set.of());
    }

    public Host {
        requireNonNull(id, "id is null");
        requireNonNull(arch, "arch is null");
        requireNonNull(state, "state is null");
        labels = Set.copyOf(requireNonNull(labels, "labels is null"));
        allocations = List.copyOf(requireNonNull(allocations, "allocations is null"));
        emulated = Set.copyOf(requireNonNull(emulated, "emulated is null"));
        if (emulated.contains(Arch.ANY) || emulated.contains(arch)) {
            throw new IllegalArgumentException("host " + id + " (" + arch + ") can emulate only another concrete arch,"
                    + " not " + emulated);
        }
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

    /** Whether a job asking for this arch can run here, natively or under the emulation the host offers. */
    public boolean runs(Arch jobArch) {
        return jobArch.runsOn(arch) || emulated.contains(jobArch);
    }

    /** Whether a job asking for this arch runs here natively: {@link Arch#ANY} always does. */
    public boolean runsNatively(Arch jobArch) {
        return jobArch.runsOn(arch);
    }

    /** The arch a job's VM has here: the job's own, or the host's for a job that runs on any. */
    public Arch vmArch(Arch jobArch) {
        return jobArch == Arch.ANY ? arch : jobArch;
    }

    /** Whether a job of this size fits the host when the host is empty: arch, vCPUs, memory and disk. */
    public boolean couldEverHold(Size size) {
        return runs(size.arch()) && size.vcpus() <= vcpus && size.memoryMib() <= memoryMib
                && size.diskGib() <= diskGib;
    }

    public Host withState(HostState newState) {
        return new Host(id, arch, vcpus, memoryMib, diskGib, labels, newState, allocations, emulated);
    }

    public Host withAllocation(Allocation allocation) {
        List<Allocation> more = new ArrayList<>(allocations);
        more.add(requireNonNull(allocation, "allocation is null"));
        return new Host(id, arch, vcpus, memoryMib, diskGib, labels, state, more, emulated);
    }
}
