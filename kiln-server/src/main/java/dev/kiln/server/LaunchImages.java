package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The image a VM boots for its arch. A job names its image once, when it is submitted (a kiln-any job
 * does not know its host yet, a GitHub job's runner image is configured once); the launch, which knows
 * the VM's arch, takes the image of the same name built for that arch ({@code default-arm64} for
 * {@code default}, {@link ImageStore#nameFor}). An image with no build for the arch is left as it is:
 * the agent then refuses it before making anything, saying which arch it is built for.
 */
final class LaunchImages {
    /** The identity: a server without an image store leaves images to its hosts. */
    static final LaunchImages NONE = new LaunchImages(null);

    private final ImageStore images;
    /** Manifests by digest: immutable, so read once. */
    private final Map<String, Optional<ImageManifest>> manifests = new ConcurrentHashMap<>();

    LaunchImages(ImageStore images) {
        this.images = images;
    }

    String forArch(String image, Arch arch) {
        requireNonNull(image, "image is null");
        requireNonNull(arch, "arch is null");
        if (images == null) {
            return image;
        }
        Optional<ImageManifest> manifest = image.startsWith("sha256:") ? manifest(image) : images.findByName(image);
        if (manifest.isEmpty() || manifest.get().architecture() == arch) {
            return image;
        }
        String base = baseName(manifest.get());
        return images.findByName(ImageStore.nameFor(base, arch)).map(ImageManifest::digest).orElse(image);
    }

    private Optional<ImageManifest> manifest(String digest) {
        Optional<ImageManifest> known = manifests.get(digest);
        if (known != null) {
            return known;
        }
        Optional<ImageManifest> found = images.list().stream().filter(m -> m.digest().equals(digest)).findFirst();
        if (found.isPresent()) {
            manifests.put(digest, found); // an image that is not here yet may arrive: only hits are kept
        }
        return found;
    }

    /** The recipe's name an image was stored under: {@code default} for {@code default} and {@code default-arm64}. */
    private static String baseName(ImageManifest image) {
        String suffix = "-" + image.architecture().id();
        return image.name().endsWith(suffix) ? image.name().substring(0, image.name().length() - suffix.length())
                : image.name();
    }
}
