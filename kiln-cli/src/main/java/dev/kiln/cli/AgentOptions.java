package dev.kiln.cli;

import dev.kiln.agent.Capacity;
import dev.kiln.agent.EngineVmm;
import dev.kiln.agent.SimulatedVmm;
import dev.kiln.agent.Vmm;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.vm.HostInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** What an agent reports and which VMM it drives: shared by `kiln agent` and `kiln up`. */
final class AgentOptions {
    @Option(names = "--vcpus", description = "vCPUs to offer (default: the host's CPUs)")
    Integer vcpus;

    @Option(names = "--vm-memory", converter = Converters.MebibyteSize.class,
            description = "memory to offer VMs (default: the host's, less 512m)")
    Long memoryMib;

    @Option(names = "--vm-disk", converter = Converters.GibibyteSize.class,
            description = "scratch disk to offer VMs (default: free space of the state dir)")
    Integer diskGib;

    @Option(names = "--emulate", paramLabel = "ARCH", converter = Converters.GuestArch.class,
            description = "also run VMs of this other architecture (arm64 on an x86_64 host) under emulation:"
                    + " several times slower, so offered only when asked (repeatable)")
    java.util.Set<Arch> emulate = new java.util.HashSet<>();

    @Option(names = "--simulate", description = "boot nothing: a simulated VMM that only reports boots and exits"
            + " (`sleep S`, `exit N`, `echo ...`), for fleet tests and benchmarks")
    boolean simulate;

    @Option(names = "--simulated-boot", converter = Converters.Timeout.class, hidden = true,
            description = "how long a simulated VM boots (default: 0s)")
    Duration simulatedBoot = Duration.ZERO;

    /** @param fetchFrom where images this host lacks come from (the server), or null */
    Vmm vmm(HostOptions host, dev.kiln.images.ImageSource fetchFrom) {
        Path state = host.stateDir();
        if (simulate) {
            Capacity capacity = new Capacity(Arch.X86_64, vcpus == null ? 8 : vcpus,
                    memoryMib == null ? 16 * 1024 : memoryMib, diskGib == null ? 100 : diskGib, emulated(Arch.X86_64));
            try {
                Files.createDirectories(state.resolve("agent"));
            } catch (IOException e) {
                throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot make " + state.resolve("agent"), e);
            }
            return new SimulatedVmm(capacity, simulatedBoot, state.resolve("agent").resolve("simulated-vms.json"));
        }
        HostInfo info = HostInfo.read();
        Arch arch = Arch.parse(System.getProperty("os.arch")).orElseThrow(() -> new KilnException(
                ErrorCode.HOST_PREREQUISITE_MISSING, "this host's arch " + System.getProperty("os.arch")
                        + " is neither x86_64 nor arm64"));
        Capacity capacity = new Capacity(arch, vcpus == null ? info.cpus() : vcpus,
                memoryMib == null ? Math.max(1, info.memoryMib() - 512) : memoryMib,
                diskGib == null ? freeDiskGib(state) : diskGib, emulated(arch));
        return new EngineVmm(host.engine(), host.images(), capacity, fetchFrom);
    }

    private java.util.Set<Arch> emulated(Arch own) {
        if (emulate.contains(own)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--emulate " + own + ": this host runs " + own
                    + " natively; --emulate names another architecture");
        }
        return emulate;
    }

    private static int freeDiskGib(Path state) {
        try {
            Files.createDirectories(state);
            return (int) Math.max(1, Files.getFileStore(state).getUsableSpace() >> 30);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot read the free space of " + state, e);
        }
    }
}
