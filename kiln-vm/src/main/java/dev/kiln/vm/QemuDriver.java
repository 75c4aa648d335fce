package dev.kiln.vm;

import dev.kiln.core.Arch;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * QEMU, one machine per guest architecture, both with virtio devices over MMIO and no firmware to
 * speak of:
 * <ul>
 *   <li>x86_64: the {@code microvm} machine, no PCI, ISA serial lines for the console (ttyS0) and the
 *       command's stderr (ttyS1), the RTC kept (the guest's timekeeping needs it without KVM);</li>
 *   <li>arm64: the {@code virt} machine (a device tree, GICv3, PSCI power-off, the PL011 console
 *       ttyAMA0); it has no second serial line, so the command's stderr is a virtio console (hvc0).
 *       Under TCG a concrete CPU: {@code -cpu max} emulates pointer authentication and boots 3-4×
 *       slower (microvm-notes §9).</li>
 * </ul>
 * KVM where a probe proved it works on a guest of the host's own architecture, otherwise TCG. QEMU's
 * seccomp sandbox is on; it runs as the unprivileged VMM user. Its serial logs are opened for
 * appending, so Kiln can cut their head out in place ({@link LogCap}).
 */
public final class QemuDriver implements VmmDriver {
    /** Translation cache per TCG VM; the default (1 GiB) would dominate a small VM's memory. */
    static final int TCG_CACHE_MIB = 128;
    /** The CPU an emulated arm64 guest gets: the fastest to boot of those measured (microvm-notes §9). */
    static final String TCG_ARM64_CPU = "neoverse-n1";

    @Override
    public String name() {
        return "qemu";
    }

    /** The QEMU binary that runs guests of this architecture. */
    public static String binary(Arch arch) {
        return switch (arch) {
            case X86_64 -> "qemu-system-x86_64";
            case ARM64 -> "qemu-system-aarch64";
            case ANY -> throw new IllegalArgumentException("a VM has a concrete architecture, not any");
        };
    }

    @Override
    public List<String> command(LaunchPlan plan) {
        boolean kvm = plan.accelerator() == EngineConfig.Accelerator.KVM;
        boolean arm64 = plan.arch() == Arch.ARM64;
        List<String> args = new ArrayList<>(List.of(binary(plan.arch()), "-name", "kiln-" + plan.vmId()));
        if (arm64) {
            args.addAll(List.of("-M", kvm ? "virt,gic-version=host" : "virt,gic-version=3",
                    "-accel", kvm ? "kvm" : "tcg,thread=multi,tb-size=" + TCG_CACHE_MIB,
                    "-cpu", kvm ? "host" : TCG_ARM64_CPU));
        } else {
            args.addAll(List.of("-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
                    "-accel", kvm ? "kvm" : "tcg,thread=multi,tb-size=" + TCG_CACHE_MIB,
                    "-cpu", kvm ? "host" : "max"));
        }
        args.addAll(List.of(
                "-smp", Integer.toString(plan.cpus()),
                "-m", plan.memoryMib() + "M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                "-kernel", plan.kernel().toString(),
                "-append", plan.kernelCommandLine(),
                "-chardev", "file,id=console,append=on,path=" + plan.consoleLog(),
                "-serial", "chardev:console",
                "-chardev", "file,id=stderr,append=on,path=" + plan.stderrLog()));
        if (arm64) {
            args.addAll(List.of("-device", "virtio-serial-device", "-device", "virtconsole,chardev=stderr"));
        } else {
            args.addAll(List.of("-device", "isa-serial,chardev=stderr,iobase=0x2f8,irq=3"));
        }
        // The root disk must be the guest's first: a kernel without an initrd mounts it as /dev/vda. microvm
        // gives its transports to devices in command-line order; virt fills its transports from the highest
        // address down while Linux probes them from the lowest, so there the last disk named is the first.
        List<List<String>> disks = new ArrayList<>(List.of(
                List.of("-drive", "id=root,file=" + plan.rootfs() + ",format=raw,if=none,readonly=on",
                        "-device", "virtio-blk-device,drive=root,serial=kiln-root"),
                List.of("-drive", "id=scratch,file=" + plan.scratchDisk() + ",format=qcow2,if=none,discard=unmap",
                        "-device", "virtio-blk-device,drive=scratch,serial=kiln-scratch"),
                List.of("-drive", "id=config,file=" + plan.configDrive() + ",format=raw,if=none,readonly=on",
                        "-device", "virtio-blk-device,drive=config,serial=kiln-config")));
        if (arm64) {
            Collections.reverse(disks);
        }
        disks.forEach(args::addAll);
        args.addAll(List.of("-device", "virtio-rng-device"));
        if (plan.initrd() != null) {
            args.addAll(List.of("-initrd", plan.initrd().toString()));
        }
        if (plan.tap() != null) {
            args.addAll(List.of(
                    "-netdev", "tap,id=net,ifname=" + plan.tap() + ",script=no,downscript=no",
                    "-device", "virtio-net-device,netdev=net,mac=" + plan.mac()));
        }
        return args;
    }
}
