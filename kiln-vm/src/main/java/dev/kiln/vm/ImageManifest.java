package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * An image as stored on a host: named by the digest of its files, so two hosts holding the same
 * digest hold the same bytes.
 *
 * @param recipeDigest digest of the recipe that built it, so an unchanged recipe is not rebuilt
 */
public record ImageManifest(
        String name,
        String version,
        String arch,
        String digest,
        String recipeDigest,
        String kernelVersion,
        Map<String, FileEntry> files) {

    public static final String KERNEL = "vmlinuz";
    public static final String INITRD = "initrd.img";
    public static final String ROOTFS = "rootfs.ext4";

    public record FileEntry(String sha256, long size) {}

    public ImageManifest {
        requireNonNull(name, "name is null");
        requireNonNull(digest, "digest is null");
        files = new TreeMap<>(files);
        for (String required : new String[] {KERNEL, INITRD, ROOTFS}) {
            if (!files.containsKey(required)) {
                throw new IllegalArgumentException("image " + name + " lacks " + required);
            }
        }
    }

    public String shortDigest() {
        return digest.substring("sha256:".length(), "sha256:".length() + 12);
    }

    /** The image's directory under the store. */
    Path directory(Path imagesDir) {
        return imagesDir.resolve(digest.replace(':', '-'));
    }
}
