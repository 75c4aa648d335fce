package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.images.ImageManifest;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class KernelCommandLineTest {
    private static final ImageManifest.FileEntry ENTRY = new ImageManifest.FileEntry("0".repeat(64), 1);
    private static final ImageManifest KILNS = new ImageManifest("default", "1", "x86_64", "sha256:" + "a".repeat(64), "r",
            new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "k"),
            Map.of(ImageManifest.KERNEL, ENTRY, ImageManifest.ROOTFS, ENTRY), null, null);
    private static final ImageManifest CLOUD = new ImageManifest("default", "1", "x86_64", "sha256:" + "b".repeat(64), "r",
            new ImageManifest.Kernel(ImageManifest.Kernel.DEBIAN_CLOUD, "6.1.0-28-cloud-amd64", "deb"),
            Map.of(ImageManifest.KERNEL, ENTRY, ImageManifest.INITRD, ENTRY, ImageManifest.ROOTFS, ENTRY), null, null);
    private static final ImageManifest ARM64 = new ImageManifest("default-arm64", "1", "arm64", "sha256:" + "c".repeat(64),
            "r", new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "k"),
            Map.of(ImageManifest.KERNEL, ENTRY, ImageManifest.ROOTFS, ENTRY), null, null);

    @Test
    void kilnsKernelMountsTheImagesRootItselfAndStartsKilnRoot() {
        String cmdline = KernelCommandLine.of(KILNS, "vm-1", EngineConfig.Accelerator.KVM, OptionalLong.empty());

        assertThat(cmdline.split(" ")).contains("root=/dev/vda", "ro", "rootfstype=ext4", "init=/sbin/kiln-root",
                "console=ttyS0", "panic=-1", "kiln.vm=vm-1");
    }

    @Test
    void debiansCloudKernelLeavesTheRootToItsInitrd() {
        String cmdline = KernelCommandLine.of(CLOUD, "vm-1", EngineConfig.Accelerator.KVM, OptionalLong.empty());

        assertThat(cmdline).doesNotContain("root=", "init=");
    }

    @Test
    void emulatedBootsGetTheHostsTscFrequencyAndNoKernelMemoryAccounting() {
        for (ImageManifest image : new ImageManifest[] {KILNS, CLOUD}) {
            String tcg = KernelCommandLine.of(image, "vm-1", EngineConfig.Accelerator.TCG, OptionalLong.of(2_596_138));
            String kvm = KernelCommandLine.of(image, "vm-1", EngineConfig.Accelerator.KVM, OptionalLong.of(2_596_138));

            assertThat(tcg.split(" ")).contains("tsc_early_khz=2596138", "cgroup.memory=nokmem");
            assertThat(kvm).doesNotContain("tsc_early_khz", "nokmem");
        }
        assertThat(KernelCommandLine.of(KILNS, "vm-1", EngineConfig.Accelerator.TCG, OptionalLong.empty()))
                .doesNotContain("tsc_early_khz").contains("cgroup.memory=nokmem");
    }

    @Test
    void anArm64GuestHasThePl011ConsoleAndNoX86Options() {
        String tcg = KernelCommandLine.of(ARM64, "vm-1", EngineConfig.Accelerator.TCG, OptionalLong.of(2_596_138));

        assertThat(tcg.split(" ")).contains("console=ttyAMA0", "root=/dev/vda", "init=/sbin/kiln-root",
                "cgroup.memory=nokmem", "kiln.vm=vm-1");
        assertThat(tcg).doesNotContain("ttyS0", "tsc_early_khz", "reboot=t");
    }
}
