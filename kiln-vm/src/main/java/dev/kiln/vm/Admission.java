package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Lets a VM onto the host only when it fits beside the VMs every Kiln process here already runs
 * (the {@link HostLedger}): vCPUs up to {@value #CPU_OVERCOMMIT} per CPU, memory never over-committed
 * (the guest's RAM plus what its VMM needs, as its cgroup allows), disk within the scratch file
 * system's free space less what the other VMs' disks may still write. A VM that could never fit is
 * refused at once; one that fits later waits (or is refused when asked not to wait).
 */
final class Admission {
    /** vCPUs per host CPU: guests idle much of the time, and a boot slowed by more is a boot failing. */
    static final int CPU_OVERCOMMIT = 2;
    /** Memory left to the host itself and Kiln's processes. */
    static final long HOST_RESERVED_MIB = 512;
    private static final long WAIT_STEP_MILLIS = 200;

    private final HostInfo host;
    private final HostLedger ledger;
    private final Path diskDir;

    Admission(HostInfo host, HostLedger ledger, Path diskDir) {
        this.host = requireNonNull(host, "host is null");
        this.ledger = requireNonNull(ledger, "ledger is null");
        this.diskDir = requireNonNull(diskDir, "diskDir is null");
    }

    /**
     * Reserves the VM's room, waiting while the host is full (telling {@code waiting} once why) unless
     * {@code wait} is false; throws INSUFFICIENT_CAPACITY when it cannot fit, CANCELLED when cancelled.
     */
    HostLedger.Reservation admit(VmSpec spec, Path disk, boolean wait, Consumer<String> waiting,
            BooleanSupplier cancelled) {
        HostLedger.Claim claim = new HostLedger.Claim(spec.vmId(), spec.cpus(), memoryMib(spec), spec.diskGib(), disk);
        boolean told = false;
        while (true) {
            String[] full = new String[1];
            var reservation = ledger.reserveIf(claim, others -> {
                full[0] = whyNot(claim, others);
                return full[0] == null;
            });
            if (reservation.isPresent()) {
                return reservation.get();
            }
            if (!wait) {
                throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY, "VM %s does not fit on this host now: %s"
                        .formatted(spec.vmId(), full[0]));
            }
            if (!told) {
                waiting.accept("waiting for room for VM %s: %s".formatted(spec.vmId(), full[0]));
                told = true;
            }
            if (cancelled.getAsBoolean()) {
                throw new KilnException(ErrorCode.CANCELLED, "VM %s was cancelled while it waited for room"
                        .formatted(spec.vmId()));
            }
            try {
                Thread.sleep(WAIT_STEP_MILLIS); // other processes give room back: there is nothing to wait on
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KilnException(ErrorCode.CANCELLED, "interrupted while VM %s waited for room"
                        .formatted(spec.vmId()));
            }
        }
    }

    /** What the VM's cgroup lets it use: the guest's RAM and its VMM's. */
    static long memoryMib(VmSpec spec) {
        return VmResources.memoryLimitBytes(spec.memoryMib()) >> 20;
    }

    int vcpuCapacity() {
        return host.cpus() * CPU_OVERCOMMIT;
    }

    long memoryCapacityMib() {
        return host.memoryMib() - HOST_RESERVED_MIB;
    }

    /** Null when the claim fits beside the others now; otherwise why not (and a refusal if it never will). */
    private String whyNot(HostLedger.Claim claim, List<HostLedger.Claim> others) {
        int cpus = others.stream().mapToInt(HostLedger.Claim::cpus).sum();
        long memory = others.stream().mapToLong(HostLedger.Claim::memoryMib).sum();
        long diskToCome = others.stream().mapToLong(HostLedger.Claim::diskBytesToCome).sum();
        long diskHeld = others.stream().mapToLong(c -> ((long) c.diskGib() << 30) - c.diskBytesToCome()).sum();
        long free = freeDiskBytes();
        long disk = (long) claim.diskGib() << 30;
        if (disk > free + diskHeld) {
            throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY, ("--disk %d GiB is more than this host could"
                    + " give: the file system of %s has %d GiB free, and the other %d VM(s) hold %d GiB")
                    .formatted(claim.diskGib(), diskDir, free >> 30, others.size(), diskHeld >> 30));
        }
        if (claim.memoryMib() > memoryCapacityMib() || claim.cpus() > vcpuCapacity()) {
            throw new KilnException(ErrorCode.INSUFFICIENT_CAPACITY, ("the VM needs %d vCPUs and %d MiB (its RAM and"
                    + " its VMM's); this host gives VMs at most %d vCPUs and %d MiB").formatted(claim.cpus(),
                    claim.memoryMib(), vcpuCapacity(), memoryCapacityMib()));
        }
        if (cpus + claim.cpus() <= vcpuCapacity() && memory + claim.memoryMib() <= memoryCapacityMib()
                && disk <= free - diskToCome) {
            return null;
        }
        return ("it needs %d vCPUs, %d MiB and %d GiB of disk; %d VM(s) of Kiln processes on this host hold %d of"
                + " %d vCPUs and %d of %d MiB, and may still write %d of the %d GiB free")
                .formatted(claim.cpus(), claim.memoryMib(), claim.diskGib(), others.size(), cpus, vcpuCapacity(),
                        memory, memoryCapacityMib(), diskToCome >> 30, free >> 30);
    }

    private long freeDiskBytes() {
        try {
            Path existing = diskDir;
            while (!Files.exists(existing)) {
                existing = existing.getParent();
            }
            return Files.getFileStore(existing).getUsableSpace();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the free space of " + diskDir, e);
        }
    }
}
