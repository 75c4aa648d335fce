package dev.kiln.core;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The hosts during one scheduling pass: what each has free as jobs are placed, and which are held
 * for a job that has waited too long. Not thread-safe; one pass owns it.
 */
final class Fleet {
    /** One host's free room in this pass. vCPU room is over-committed; it may start negative. */
    static final class Bin {
        final Host host;
        final boolean active;
        long freeVcpus;
        long freeMemoryMib;
        long freeDiskGib;
        /** Held for an earlier job: takes nothing queued behind it in this pass. */
        boolean held;

        Bin(Host host, double vcpuOvercommit) {
            this.host = host;
            this.active = host.state() == HostState.ACTIVE;
            long vcpuCapacity = (long) Math.floor(host.vcpus() * vcpuOvercommit + 1e-9);
            this.freeVcpus = vcpuCapacity - host.reservedVcpus();
            this.freeMemoryMib = host.memoryMib() - host.reservedMemoryMib();
            this.freeDiskGib = host.diskGib() - host.reservedDiskGib();
        }

        boolean open() {
            return active && !held;
        }

        boolean fitsNow(Size size) {
            return host.couldEverHold(size) && size.vcpus() <= freeVcpus && size.memoryMib() <= freeMemoryMib
                    && size.diskGib() <= freeDiskGib;
        }
    }

    private static final Arch[] HOST_ARCHES = {Arch.X86_64, Arch.ARM64};

    private final List<Bin> bins;
    /** Per concrete arch (ordinal), the most free room among open bins: a cheap test that nothing fits. */
    private final long[] maxFreeVcpus = new long[2];
    private final long[] maxFreeMemoryMib = new long[2];
    private final long[] maxFreeDiskGib = new long[2];
    private final Map<Size, Optional<String>> neverFits = new HashMap<>();
    private final Map<Size, Boolean> activeCouldHold = new HashMap<>();

    Fleet(List<Host> hosts, double vcpuOvercommit) {
        this.bins = hosts.stream().map(host -> new Bin(host, vcpuOvercommit)).toList();
        Set<HostId> ids = new HashSet<>();
        for (Host host : hosts) {
            if (!ids.add(host.id())) {
                throw new IllegalArgumentException("host " + host.id() + " is listed twice");
            }
        }
        refreshMaxima(Arch.X86_64);
        refreshMaxima(Arch.ARM64);
    }

    /**
     * Why no registered host, whatever its state, could ever hold a job of this size; empty when one
     * could, or when no host is registered at all (the fleet is still enrolling, so the job waits).
     */
    Optional<String> neverFits(Size size) {
        return neverFits.computeIfAbsent(size, this::explainNeverFits);
    }

    /** Whether an active host could hold a job of this size once it is empty. */
    boolean activeCouldHold(Size size) {
        return activeCouldHold.computeIfAbsent(size,
                s -> bins.stream().anyMatch(bin -> bin.active && bin.host.couldEverHold(s)));
    }

    /**
     * The open bin a job of this size goes to, or null when none has room now. A host that runs the job
     * natively is preferred; one that would emulate it is chosen only when no native host has room.
     */
    Bin choose(Size size, PlacementStrategy strategy) {
        if (!mightFit(size)) {
            return null;
        }
        Bin best = choose(size, strategy, true);
        return best != null ? best : choose(size, strategy, false);
    }

    private Bin choose(Size size, PlacementStrategy strategy, boolean natively) {
        Bin best = null;
        long bestMemoryLeft = Long.MAX_VALUE;
        long bestVcpusLeft = Long.MAX_VALUE;
        for (Bin bin : bins) {
            if (!bin.open() || !bin.fitsNow(size) || bin.host.runsNatively(size.arch()) != natively) {
                continue;
            }
            if (strategy == PlacementStrategy.FIRST_FIT) {
                return bin;
            }
            long memoryLeft = bin.freeMemoryMib - size.memoryMib();
            long vcpusLeft = bin.freeVcpus - size.vcpus();
            if (memoryLeft < bestMemoryLeft || (memoryLeft == bestMemoryLeft && vcpusLeft < bestVcpusLeft)) {
                best = bin;
                bestMemoryLeft = memoryLeft;
                bestVcpusLeft = vcpusLeft;
            }
        }
        return best;
    }

    void place(Bin bin, Size size) {
        bin.freeVcpus -= size.vcpus();
        bin.freeMemoryMib -= size.memoryMib();
        bin.freeDiskGib -= size.diskGib();
        refreshMaxima(Arch.X86_64);
        refreshMaxima(Arch.ARM64);
    }

    /** Holds every open bin that could hold a job of this size once empty; true when any was newly held. */
    boolean holdFor(Size size) {
        boolean any = false;
        for (Bin bin : bins) {
            if (bin.open() && bin.host.couldEverHold(size)) {
                bin.held = true;
                any = true;
            }
        }
        if (any) {
            refreshMaxima(Arch.X86_64);
            refreshMaxima(Arch.ARM64);
        }
        return any;
    }

    /** Whether an active bin held for an earlier job has room for this size now. */
    boolean heldBinFits(Size size) {
        for (Bin bin : bins) {
            if (bin.active && bin.held && bin.fitsNow(size)) {
                return true;
            }
        }
        return false;
    }

    private boolean mightFit(Size size) {
        for (Arch arch : HOST_ARCHES) {
            int i = arch.ordinal();
            if ((size.arch() == Arch.ANY || size.arch() == arch) && size.vcpus() <= maxFreeVcpus[i]
                    && size.memoryMib() <= maxFreeMemoryMib[i] && size.diskGib() <= maxFreeDiskGib[i]) {
                return true;
            }
        }
        return false;
    }

    /** Per arch, the most free room among open bins that run it, natively or emulated. */
    private void refreshMaxima(Arch arch) {
        long vcpus = Long.MIN_VALUE;
        long memory = Long.MIN_VALUE;
        long disk = Long.MIN_VALUE;
        for (Bin bin : bins) {
            if (bin.open() && bin.host.runs(arch)) {
                vcpus = Math.max(vcpus, bin.freeVcpus);
                memory = Math.max(memory, bin.freeMemoryMib);
                disk = Math.max(disk, bin.freeDiskGib);
            }
        }
        maxFreeVcpus[arch.ordinal()] = vcpus;
        maxFreeMemoryMib[arch.ordinal()] = memory;
        maxFreeDiskGib[arch.ordinal()] = disk;
    }

    private Optional<String> explainNeverFits(Size size) {
        if (bins.isEmpty() || bins.stream().anyMatch(bin -> bin.host.couldEverHold(size))) {
            return Optional.empty();
        }
        Host largest = null;
        boolean diskShort = true;
        for (Bin bin : bins) {
            Host host = bin.host;
            if (!host.runs(size.arch())) {
                continue;
            }
            diskShort &= host.diskGib() < size.diskGib();
            if (largest == null || host.memoryMib() > largest.memoryMib()
                    || (host.memoryMib() == largest.memoryMib() && host.vcpus() > largest.vcpus())) {
                largest = host;
            }
        }
        String arch = size.arch() == Arch.ANY ? "any arch" : size.arch().id();
        if (largest == null) {
            Host biggest = bins.stream().map(bin -> bin.host)
                    .reduce((a, b) -> b.memoryMib() > a.memoryMib() ? b : a).orElseThrow();
            // Emulation is never chosen silently: the operator of a host of the other arch offers it.
            String emulation = size.arch() == Arch.ANY ? ""
                    : "; a host of another arch runs " + arch + " VMs under emulation once started with"
                            + " `kiln agent --emulate " + arch + "`";
            return Optional.of("needs " + need(size, false) + " (" + arch + "); no " + arch
                    + " host is registered (the largest host is " + biggest.id() + ", " + biggest.arch().id()
                    + ", with " + has(biggest, false) + ")" + emulation);
        }
        String where = size.arch() == Arch.ANY ? "host" : arch + " host";
        return Optional.of("needs " + need(size, diskShort) + " (" + arch + "); the largest " + where + " is "
                + largest.id() + " with " + has(largest, diskShort));
    }

    private static String need(Size size, boolean withDisk) {
        String memoryAndVcpus = Quantities.memory(size.memoryMib()) + " memory";
        return withDisk
                ? memoryAndVcpus + ", " + Quantities.vcpus(size.vcpus()) + " and " + size.diskGib() + " GiB disk"
                : memoryAndVcpus + " and " + Quantities.vcpus(size.vcpus());
    }

    private static String has(Host host, boolean withDisk) {
        String memory = Quantities.memory(host.memoryMib());
        return withDisk
                ? memory + ", " + Quantities.vcpus(host.vcpus()) + " and " + host.diskGib() + " GiB disk"
                : memory + " and " + Quantities.vcpus(host.vcpus());
    }
}
