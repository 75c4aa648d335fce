package dev.kiln.vm;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Predicate;

/**
 * KVM or TCG. A {@code /dev/kvm} that opens is not proof that KVM runs our kernel (on PVM hosts a
 * stock guest hangs), so KVM is chosen only when a probe VM booted under it and reported back. The
 * verdict is kept per host kernel, so the probe runs once. A guest of another architecture than the
 * host's (arm64 on x86_64) is always emulated: KVM runs only the host's own.
 */
final class AcceleratorChoice {

    /** The architecture this JVM (and so the host) runs: os.arch is amd64 or aarch64. */
    static final Arch HOST_ARCH = Arch.parse(System.getProperty("os.arch")).orElse(Arch.X86_64);

    private final EngineConfig config;
    private final Predicate<ImageManifest> probe;
    private volatile EngineConfig.Accelerator chosen;

    AcceleratorChoice(EngineConfig config, Predicate<ImageManifest> probe) {
        this.config = config;
        this.probe = probe;
    }

    synchronized EngineConfig.Accelerator choose(ImageManifest image) {
        if (image.architecture() != HOST_ARCH) {
            return EngineConfig.Accelerator.TCG;
        }
        if (config.accelerator() != EngineConfig.Accelerator.AUTO) {
            return config.accelerator();
        }
        if (chosen != null) {
            return chosen;
        }
        Path cache = config.stateDir().resolve("accelerator");
        String key = hostKernel() + " " + image.files().get(ImageManifest.KERNEL).sha256();
        try {
            if (Files.exists(cache)) {
                String[] saved = Files.readString(cache).strip().split(" ", 2);
                if (saved.length == 2 && saved[1].equals(key)) {
                    chosen = EngineConfig.Accelerator.valueOf(saved[0]);
                    return chosen;
                }
            }
            String reason;
            if (!kvmOpens()) {
                chosen = EngineConfig.Accelerator.TCG;
                reason = "/dev/kvm is missing or not usable";
            } else if (probe.test(image)) {
                chosen = EngineConfig.Accelerator.KVM;
                reason = "a probe VM booted under KVM";
            } else {
                chosen = EngineConfig.Accelerator.TCG;
                reason = "/dev/kvm opens but a probe VM did not boot under it";
            }
            EngineWarmup.logger(AcceleratorChoice.class).info("accelerator: {} ({}); guests run {}", chosen, reason,
                    chosen == EngineConfig.Accelerator.KVM ? "at native speed" : "under emulation, several times slower");
            Files.writeString(cache, chosen + " " + key + "\n");
            return chosen;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or write " + cache, e);
        }
    }

    static boolean kvmOpens() {
        try (RandomAccessFile kvm = new RandomAccessFile("/dev/kvm", "rw")) {
            return kvm.getFD().valid();
        } catch (IOException e) {
            return false;
        }
    }

    private static String hostKernel() {
        try {
            return Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (IOException e) {
            return "unknown";
        }
    }
}
