package dev.kiln.vm;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import java.util.OptionalLong;

/**
 * The guest kernel's command line. Never carries a secret (any guest process can read it): those go
 * on the config drive.
 */
final class KernelCommandLine {
    private KernelCommandLine() {}

    static String of(ImageManifest image, String vmId, EngineConfig.Accelerator accelerator, OptionalLong tscKhz) {
        boolean arm64 = image.architecture() == Arch.ARM64;
        // arm64's virt machine: the PL011 UART; PSCI powers it off, so no reboot method is named.
        StringBuilder cmdline = new StringBuilder(arm64 ? "console=ttyAMA0" : "console=ttyS0 reboot=t")
                .append(" panic=-1 quiet loglevel=3");
        if (!image.hasInitrd()) {
            // Kiln's kernel has virtio and ext4 built in and mounts the image's root itself; kiln-root then
            // stacks the VM's overlay on it. The root is the first virtio disk QEMU is given (QemuDriver).
            cmdline.append(" root=/dev/vda ro rootfstype=ext4 init=/sbin/kiln-root");
        }
        if (accelerator == EngineConfig.Accelerator.TCG) {
            if (tscKhz.isPresent() && !arm64) {
                // Without it 10-20% of TCG boots hang calibrating the TSC against a PIT that never ticks.
                cmdline.append(" tsc_early_khz=").append(tscKhz.getAsLong());
            }
            // Under emulation the kernel's code patching races memcg's kernel-memory accounting: 4 boots
            // in 24 oopsed at the first container start with it, none in 12 without (microvm-notes §8.1).
            cmdline.append(" cgroup.memory=nokmem");
        }
        return cmdline.append(" kiln.vm=").append(vmId).toString();
    }
}
