package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.Arch;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The QEMU command per guest architecture; that each boots is shown by the VM tests. */
class QemuDriverTest {
    private static VmmDriver.LaunchPlan plan(Arch arch, EngineConfig.Accelerator accelerator) {
        return new VmmDriver.LaunchPlan("vm-1", arch, Path.of("/img/vmlinuz"), null, Path.of("/img/rootfs.ext4"),
                Path.of("/vm/scratch.qcow2"), Path.of("/vm/config.tar"), "kt1", "52:54:00:00:00:01", 2, 1024,
                Path.of("/vm/console.log"), Path.of("/vm/stderr.log"), accelerator, "console=ttyAMA0");
    }

    @Test
    void anArm64GuestBootsOnVirtWithAConcreteCpuUnderTcgAndItsStderrOnAVirtioConsole() {
        List<String> argv = new QemuDriver().command(plan(Arch.ARM64, EngineConfig.Accelerator.TCG));

        assertThat(argv.getFirst()).isEqualTo("qemu-system-aarch64");
        assertThat(String.join(" ", argv)).contains("-M virt,gic-version=3", "-cpu neoverse-n1",
                "-accel tcg,thread=multi", "-device virtio-serial-device -device virtconsole,chardev=stderr",
                "-device virtio-blk-device,drive=root,serial=kiln-root", "-device virtio-net-device,netdev=net")
                .doesNotContain("microvm", "isa-serial", "-cpu max");
        // virt hands its transports out from the highest address down: the root disk is named last to be vda.
        assertThat(argv.indexOf("virtio-blk-device,drive=root,serial=kiln-root"))
                .isGreaterThan(argv.indexOf("virtio-blk-device,drive=scratch,serial=kiln-scratch"))
                .isGreaterThan(argv.indexOf("virtio-blk-device,drive=config,serial=kiln-config"));
    }

    @Test
    void anArm64GuestUnderKvmTakesTheHostsCpuAndGic() {
        String argv = String.join(" ", new QemuDriver().command(plan(Arch.ARM64, EngineConfig.Accelerator.KVM)));

        assertThat(argv).contains("-M virt,gic-version=host", "-accel kvm", "-cpu host");
    }

    @Test
    void anX86GuestKeepsMicrovmAndItsSecondSerialLine() {
        List<String> argv = new QemuDriver().command(plan(Arch.X86_64, EngineConfig.Accelerator.TCG));

        assertThat(argv.getFirst()).isEqualTo("qemu-system-x86_64");
        assertThat(String.join(" ", argv)).contains("-M microvm", "isa-serial,chardev=stderr").doesNotContain("virtconsole");
        assertThat(argv.indexOf("virtio-blk-device,drive=root,serial=kiln-root"))
                .isLessThan(argv.indexOf("virtio-blk-device,drive=scratch,serial=kiln-scratch"));
    }
}
