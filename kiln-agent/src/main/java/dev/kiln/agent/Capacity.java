package dev.kiln.agent;

import dev.kiln.core.Arch;

/** What a host offers its VMs, as the agent reports it. */
public record Capacity(Arch arch, int vcpus, long memoryMib, int diskGib) {
    public Capacity {
        if (arch == null || arch == Arch.ANY) {
            throw new IllegalArgumentException("a host's arch must be x86_64 or arm64, got " + arch);
        }
        if (vcpus < 1 || memoryMib < 1 || diskGib < 1) {
            throw new IllegalArgumentException("capacity must be at least 1 vCPU, 1 MiB and 1 GiB, got " + vcpus
                    + " vCPUs, " + memoryMib + " MiB, " + diskGib + " GiB");
        }
    }
}
