package dev.kiln.agent;

import dev.kiln.core.Arch;
import java.util.Set;

/**
 * What a host offers its VMs, as the agent reports it.
 *
 * @param emulated the other arches its operator lets it run under emulation (`kiln agent --emulate arm64`)
 */
public record Capacity(Arch arch, int vcpus, long memoryMib, int diskGib, Set<Arch> emulated) {
    /** A host that runs its own arch only. */
    public Capacity(Arch arch, int vcpus, long memoryMib, int diskGib) {
        this(arch, vcpus, memoryMib, diskGib, Set.of());
    }

    public Capacity {
        if (arch == null || arch == Arch.ANY) {
            throw new IllegalArgumentException("a host's arch must be x86_64 or arm64, got " + arch);
        }
        emulated = Set.copyOf(emulated);
        if (emulated.contains(arch) || emulated.contains(Arch.ANY)) {
            throw new IllegalArgumentException("a " + arch + " host emulates only another arch, not " + emulated);
        }
        if (vcpus < 1 || memoryMib < 1 || diskGib < 1) {
            throw new IllegalArgumentException("capacity must be at least 1 vCPU, 1 MiB and 1 GiB, got " + vcpus
                    + " vCPUs, " + memoryMib + " MiB, " + diskGib + " GiB");
        }
    }
}
