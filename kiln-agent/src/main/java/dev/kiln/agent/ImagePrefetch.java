package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageSource;
import dev.kiln.images.ImageStore;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches, before any launch names them, the images the server asks its hosts to hold (the image pipeline's new
 * builds), so that a job never waits for a download: each on a virtual thread of its own, checked byte for byte
 * against its digest by {@link ImageStore#fetch} as a launch's would be. Images of an arch the host does not run are
 * left alone. A failed fetch is tried again when the server next asks.
 */
public final class ImagePrefetch {
    private static final Logger log = LoggerFactory.getLogger(ImagePrefetch.class);

    private final ImageStore store;
    private final ImageSource source;
    private final Set<Arch> arches;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    /** Digests of images for arches this host does not run: never fetched. */
    private final Set<String> foreign = ConcurrentHashMap.newKeySet();

    /** @param arches the arches this host boots (its own and those it emulates) */
    public ImagePrefetch(ImageStore store, ImageSource source, Set<Arch> arches) {
        this.store = requireNonNull(store, "store is null");
        this.source = requireNonNull(source, "source is null");
        this.arches = Set.copyOf(arches);
    }

    /**
     * Starts fetching each digest this host lacks and is not fetching already; {@code fetched} runs after each image
     * arrived, so that the agent reports it at once.
     */
    void want(List<String> digests, Runnable fetched) {
        if (digests == null || digests.isEmpty()) {
            return;
        }
        Set<String> held = Set.copyOf(held());
        for (String digest : digests) {
            if (held.contains(digest) || foreign.contains(digest) || !inFlight.add(digest)) {
                continue;
            }
            Thread.ofVirtual().name("kiln-prefetch-" + digest.substring(7, 19)).start(() -> fetch(digest, fetched));
        }
    }

    /** The digests this host holds. */
    public List<String> held() {
        return store.list().stream().map(ImageManifest::digest).sorted().toList();
    }

    private void fetch(String digest, Runnable fetched) {
        try {
            ImageManifest manifest = source.manifest(digest);
            if (!arches.contains(manifest.architecture())) {
                foreign.add(digest);
                return;
            }
            long started = System.nanoTime();
            ImageManifest image = store.fetch(digest, source);
            log.info("prefetched image {} ({}, {}) in {} ms", image.name(), image.shortDigest(), image.arch(),
                    (System.nanoTime() - started) / 1_000_000);
            fetched.run();
        } catch (Exception e) {
            log.warn("cannot prefetch image {}: {}; trying again when the server next asks", digest, e.getMessage());
        } finally {
            inFlight.remove(digest);
        }
    }
}
