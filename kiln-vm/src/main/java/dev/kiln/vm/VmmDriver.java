package dev.kiln.vm;

import dev.kiln.core.Arch;
import java.nio.file.Path;
import java.util.List;

/** One VMM (QEMU microvm, later Firecracker): turns a launch plan into the process to start. */
public interface VmmDriver {
    String name();

    /** The VMM's argv; it must exit when the guest resets or powers off. */
    List<String> command(LaunchPlan plan);

    /**
     * Everything one VM launch needs. {@code tap} is null for a VM without network, {@code initrd} for a
     * kernel that needs none.
     * {@code consoleLog} receives the console (kernel, markers, the command's stdout: ttyS0 on x86_64,
     * ttyAMA0 on arm64), {@code stderrLog} the command's stderr (ttyS1, hvc0). {@code arch} is the guest's.
     */
    record LaunchPlan(
            String vmId,
            Arch arch,
            Path kernel,
            Path initrd,
            Path rootfs,
            Path scratchDisk,
            Path configDrive,
            String tap,
            String mac,
            int cpus,
            long memoryMib,
            Path consoleLog,
            Path stderrLog,
            EngineConfig.Accelerator accelerator,
            String kernelCommandLine) {}
}
