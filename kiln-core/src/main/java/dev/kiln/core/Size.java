package dev.kiln.core;

import static java.util.Objects.requireNonNull;

/**
 * What a job asks for: vCPUs, memory in MiB, scratch disk in GiB and an arch ({@link Arch#ANY} runs
 * on either).
 */
public record Size(int vcpus, long memoryMib, int diskGib, Arch arch) {
    public Size {
        requireNonNull(arch, "arch is null");
        if (vcpus < 1) {
            throw new IllegalArgumentException("vcpus must be at least 1, got " + vcpus);
        }
        if (memoryMib < 1) {
            throw new IllegalArgumentException("memoryMib must be at least 1, got " + memoryMib);
        }
        if (diskGib < 1) {
            throw new IllegalArgumentException("diskGib must be at least 1, got " + diskGib);
        }
    }

    /** A size with memory given in GiB. */
    public static Size of(int vcpus, long memoryGib, int diskGib, Arch arch) {
        return new Size(vcpus, Math.multiplyExact(memoryGib, Quantities.MIB_PER_GIB), diskGib, arch);
    }

    public Size withArch(Arch newArch) {
        return new Size(vcpus, memoryMib, diskGib, newArch);
    }

    @Override
    public String toString() {
        return Quantities.vcpus(vcpus) + ", " + Quantities.memory(memoryMib) + " memory, " + diskGib + " GiB disk, "
                + arch.id();
    }
}
