package dev.kiln.core;

/** How sizes read in messages: "8 GiB", "1536 MiB", "1 vCPU", "16 vCPUs". */
final class Quantities {
    static final long MIB_PER_GIB = 1024;

    private Quantities() {}

    static String memory(long mib) {
        return mib % MIB_PER_GIB == 0 ? (mib / MIB_PER_GIB) + " GiB" : mib + " MiB";
    }

    static String vcpus(long count) {
        return count == 1 ? "1 vCPU" : count + " vCPUs";
    }
}
