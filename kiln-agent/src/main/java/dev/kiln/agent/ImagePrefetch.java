package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageSource;
import dev.kiln.images.ImageStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
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
    private final Path ledger;
    private final Predicate<ImageManifest> inUse;
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    /** Digests of images for arches this host does not run: never fetched. */
    private final Set<String> foreign = ConcurrentHashMap.newKeySet();

    /**
     * @param arches the arches this host boots (its own and those it emulates)
     * @param ledger where the digests this prefetch fetched are listed (one a line): only those are ever removed
     * @param inUse whether a VM of this host uses an image
     */
    public ImagePrefetch(ImageStore store, ImageSource source, Set<Arch> arches, Path ledger,
            Predicate<ImageManifest> inUse) {
        this.ledger = requireNonNull(ledger, "ledger is null");
        this.inUse = requireNonNull(inUse, "inUse is null");
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
            return; // a server without a pipeline: nothing fetched ahead, nothing removed
        }
        prune(Set.copyOf(digests));
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

    /**
     * Removes the images this prefetch fetched that the server no longer offers (builds older than the one a rollback
     * returns to) and no VM here uses; those a launch fetched, or the operator built, are never touched.
     */
    private synchronized void prune(Set<String> offered) {
        List<String> mine = fetchedHere();
        List<String> kept = new ArrayList<>();
        for (String digest : mine) {
            if (offered.contains(digest) || inFlight.contains(digest)) {
                kept.add(digest);
                continue;
            }
            try {
                var image = store.list().stream().filter(m -> m.digest().equals(digest)).findFirst();
                if (image.isPresent() && inUse.test(image.get())) {
                    kept.add(digest);
                } else if (image.isPresent()) {
                    store.remove(image.get());
                    log.info("removed prefetched image {} ({}): the server no longer offers it", image.get().name(),
                            image.get().shortDigest());
                }
            } catch (RuntimeException e) {
                kept.add(digest);
                log.warn("cannot remove prefetched image {}: {}", digest, e.getMessage());
            }
        }
        if (kept.size() != mine.size()) {
            writeLedger(kept);
        }
    }

    private synchronized void record(String digest) {
        List<String> mine = new ArrayList<>(fetchedHere());
        if (!mine.contains(digest)) {
            mine.add(digest);
            writeLedger(mine);
        }
    }

    private List<String> fetchedHere() {
        try {
            return Files.exists(ledger) ? Files.readAllLines(ledger).stream().filter(l -> !l.isBlank()).toList() : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + ledger, e);
        }
    }

    private void writeLedger(List<String> digests) {
        try {
            Files.createDirectories(ledger.getParent());
            Path temp = ledger.resolveSibling(ledger.getFileName() + ".tmp");
            Files.write(temp, digests);
            Files.move(temp, ledger, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + ledger, e);
        }
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
            record(digest);
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
