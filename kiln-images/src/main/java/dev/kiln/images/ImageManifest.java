package dev.kiln.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * An image as stored on a host: named by the digest of its files, so two hosts holding the same
 * digest hold the same bytes.
 *
 * @param recipeDigest digest of the recipe that built it, so an unchanged recipe is not rebuilt
 * @param kernel the kernel it boots (its bytes are {@link #KERNEL}, so a changed kernel is a new digest)
 * @param runnerVersion the installed GitHub actions runner's version, or null
 * @param runnerInstalledOn the day it was installed (ISO date), or null
 */
public record ImageManifest(
        String name,
        String version,
        String arch,
        String digest,
        String recipeDigest,
        Kernel kernel,
        Map<String, FileEntry> files,
        String runnerVersion,
        String runnerInstalledOn) {

    /**
     * GitHub refuses a runner version 30 days after the release that supersedes it; Kiln cannot see
     * GitHub's releases offline, so it warns once the installed runner is this old.
     */
    public static final int RUNNER_WARN_AFTER_DAYS = 23;

    /** The kernel the VMM boots: Kiln's uncompressed vmlinux (PVH entry) or Debian's bzImage. */
    public static final String KERNEL = "vmlinuz";
    /** Only with Debian's cloud kernel, which keeps virtio and ext4 as modules; Kiln's needs none. */
    public static final String INITRD = "initrd.img";
    public static final String ROOTFS = "rootfs.ext4";

    public record FileEntry(String sha256, long size) {}

    /**
     * Which kernel an image boots.
     *
     * @param source {@link #KILN} (built from images/kernel/) or {@link #DEBIAN_CLOUD}
     * @param version its release, as {@code uname -r} prints it
     * @param recipe for Kiln's kernel the digest of its recipe and source version; for Debian's the package file
     */
    public record Kernel(String source, String version, String recipe) {
        public static final String KILN = "kiln";
        public static final String DEBIAN_CLOUD = "debian-cloud";

        public Kernel {
            requireNonNull(source, "source is null");
            requireNonNull(version, "version is null");
        }

        @Override
        public String toString() {
            return version + " (" + source + ")";
        }
    }

    public ImageManifest {
        requireNonNull(name, "name is null");
        requireNonNull(digest, "digest is null");
        requireNonNull(kernel, "kernel is null");
        files = new TreeMap<>(files);
        for (String required : new String[] {KERNEL, ROOTFS}) {
            if (!files.containsKey(required)) {
                throw new IllegalArgumentException("image " + name + " lacks " + required);
            }
        }
    }

    /** The architecture the image's kernel and binaries are built for (an unknown one is refused). */
    public Arch architecture() {
        return Arch.parse(arch == null ? "x86_64" : arch).filter(a -> a != Arch.ANY).orElseThrow(() -> new KilnException(
                ErrorCode.IMAGE_INVALID, "image %s (%s) records architecture '%s', which is not x86_64 or arm64"
                        .formatted(name, shortDigest(), arch)));
    }

    /**
     * Refuses this image for a VM of another architecture, before anything is made for the VM: an
     * x86_64 root filesystem under an arm64 guest would only fail deep in its boot.
     */
    public ImageManifest requireArch(Arch wanted) {
        requireNonNull(wanted, "wanted is null");
        if (wanted != Arch.ANY && architecture() != wanted) {
            throw new KilnException(ErrorCode.IMAGE_INVALID, ("image %s (%s) is built for %s; this VM is %s: build one"
                    + " with `kiln image build RECIPE --arch %s`").formatted(name, shortDigest(), architecture(), wanted,
                    wanted));
        }
        return this;
    }

    public String kernelVersion() {
        return kernel.version();
    }

    /** Whether the VMM loads an initrd: only Debian's cloud kernel needs one. */
    public boolean hasInitrd() {
        return files.containsKey(INITRD);
    }

    /** A warning when the image's runner may soon be refused by GitHub, or empty. */
    public java.util.Optional<String> runnerAgeWarning(java.time.LocalDate today) {
        if (runnerInstalledOn == null) {
            return java.util.Optional.empty();
        }
        long days = java.time.temporal.ChronoUnit.DAYS.between(java.time.LocalDate.parse(runnerInstalledOn), today);
        if (days < RUNNER_WARN_AFTER_DAYS) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(("image %s carries actions runner %s, installed %d days ago: GitHub refuses a"
                + " runner 30 days after a newer one is released; rebuild with `kiln image build %s --force"
                + " --runner-tarball <current tarball>`").formatted(name, runnerVersion, days, name));
    }

    public String shortDigest() {
        return digest.substring("sha256:".length(), "sha256:".length() + 12);
    }

    /** The image's directory under the store. */
    Path directory(Path imagesDir) {
        return imagesDir.resolve(digest.replace(':', '-'));
    }
}
