package dev.kiln.vm;

import java.util.ArrayList;
import java.util.List;

/**
 * QEMU's {@code microvm} machine: no PCI, no firmware to speak of, virtio-mmio devices. KVM where a
 * probe proved it works, otherwise TCG emulation (keeping the RTC, which the guest's timekeeping
 * needs without KVM). QEMU's seccomp sandbox is on; it runs as the unprivileged VMM user. Its serial logs are opened
 * for appending, so Kiln can cut their head out in place ({@link LogCap}).
 */
public final class QemuDriver implements VmmDriver {
    /** Translation cache per TCG VM; the default (1 GiB) would dominate a small VM's memory. */
    static final int TCG_CACHE_MIB = 128;

    private final String binary;

    public QemuDriver(String binary) {
        this.binary = binary;
    }

    public QemuDriver() {
        this("qemu-system-x86_64");
    }

    @Override
    public String name() {
        return "qemu";
    }

    @Override
    public List<String> command(LaunchPlan plan) {
        boolean kvm = plan.accelerator() == EngineConfig.Accelerator.KVM;
        List<String> args = new ArrayList<>(List.of(binary,
                "-name", "kiln-" + plan.vmId(),
                "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
                "-accel", kvm ? "kvm" : "tcg,thread=multi,tb-size=" + TCG_CACHE_MIB,
                "-cpu", kvm ? "host" : "max",
                "-smp", Integer.toString(plan.cpus()),
                "-m", plan.memoryMib() + "M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                "-kernel", plan.kernel().toString(),
                "-append", plan.kernelCommandLine(),
                "-chardev", "file,id=console,append=on,path=" + plan.consoleLog(),
                "-serial", "chardev:console",
                "-chardev", "file,id=stderr,append=on,path=" + plan.stderrLog(),
                "-device", "isa-serial,chardev=stderr,iobase=0x2f8,irq=3",
                // The root disk comes first: a kernel without an initrd mounts it as /dev/vda.
                "-drive", "id=root,file=" + plan.rootfs() + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=root,serial=kiln-root",
                "-drive", "id=scratch,file=" + plan.scratchDisk() + ",format=qcow2,if=none,discard=unmap",
                "-device", "virtio-blk-device,drive=scratch,serial=kiln-scratch",
                "-drive", "id=config,file=" + plan.configDrive() + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=config,serial=kiln-config",
                "-device", "virtio-rng-device"));
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
