package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImagePackages;
import dev.kiln.images.ImageStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The image pipeline's security trigger: an image is due when its suite's security suite ({@code bookworm-security})
 * has a newer version, by Debian's ordering, of a binary package the image holds ({@link ImagePackages}). The suite's
 * index is looked at once per {@code security-poll} for each suite and arch; one that cannot be had or is refused
 * builds nothing and is recorded as the kept images' failure. Pass thread only.
 */
final class SecurityUpdates {
    private static final Logger log = LoggerFactory.getLogger(SecurityUpdates.class);
    /** How a build's reason starts when a security update triggered it. */
    static final String REASON = "security update: ";

    private final SecurityIndex index;
    private final PipelineConfig config;
    private final ImageStore images;
    /** When each security suite and arch ("bookworm-security/amd64") was last looked at, and its newest versions. */
    private final Map<String, Instant> lastCheck = new HashMap<>();
    private final Map<String, Map<String, String>> newest = new HashMap<>();
    /** The images already said to record no package list. */
    private final Set<String> unlisted = new HashSet<>();

    SecurityUpdates(SecurityIndex index, PipelineConfig config, ImageStore images) {
        this.index = requireNonNull(index, "index is null");
        this.config = requireNonNull(config, "config is null");
        this.images = requireNonNull(images, "images is null");
    }

    /** The packages of the image that its security suite has newer versions of, as a build's reason; or nothing. */
    Optional<String> reason(PipelineConfig.KeptImage kept, ImageManifest current, Instant now) {
        Optional<ImagePackages> held;
        try {
            held = images.packages(current);
        } catch (KilnException e) {
            log.warn("image pipeline: cannot check {} for security updates: {}", kept.name(), e.getMessage());
            return Optional.empty();
        }
        if (held.isEmpty()) {
            if (unlisted.add(current.digest())) {
                log.info("image pipeline: {} ({}) records no package list (built before builds did): its security"
                        + " updates come with its next scheduled build", kept.name(), current.shortDigest());
            }
            return Optional.empty();
        }
        ImagePackages packages = held.get();
        Map<String, String> newest = newest(packages.suite() + "-security", packages.debianArch(), kept, now);
        if (newest == null) {
            return Optional.empty();
        }
        List<String> updates = new ArrayList<>();
        for (Map.Entry<String, String> installed : new java.util.TreeMap<>(packages.versions()).entrySet()) {
            String fixed = newest.get(installed.getKey());
            try {
                if (fixed != null && DebianVersion.ORDER.compare(fixed, installed.getValue()) > 0) {
                    updates.add(installed.getKey() + " " + installed.getValue() + " → " + fixed);
                }
            } catch (IllegalArgumentException e) {
                log.warn("image pipeline: {} holds {} {}: {}", kept.name(), installed.getKey(), installed.getValue(),
                        e.getMessage());
            }
        }
        if (updates.isEmpty()) {
            return Optional.empty();
        }
        int shown = Math.min(updates.size(), 5);
        return Optional.of(REASON + String.join(", ", updates.subList(0, shown))
                + (updates.size() > shown ? " and " + (updates.size() - shown) + " more" : ""));
    }

    /** The newest versions in a security suite for an arch, looked at once per poll; null while it cannot be had. */
    private Map<String, String> newest(String suite, String debianArch, PipelineConfig.KeptImage kept, Instant now) {
        String key = suite + "/" + debianArch;
        Instant asked = lastCheck.get(key);
        if (asked == null || !now.isBefore(asked.plus(config.security().poll()))) {
            lastCheck.put(key, now);
            try {
                newest.put(key, index.newest(suite, debianArch));
            } catch (KilnException e) {
                // Nothing is built from an index that cannot be had or is refused; it is looked at again at the next poll.
                newest.remove(key);
                log.warn("image pipeline: cannot check Debian's security updates ({}, {}); the images stay as they"
                        + " are: {}", suite, debianArch, e.getMessage());
                for (PipelineConfig.KeptImage other : config.images()) {
                    if (other.arch() == kept.arch()) {
                        images.recordFailure(other.name(), now, "cannot check Debian's security updates: "
                                + e.getMessage());
                    }
                }
            }
        }
        return newest.get(key);
    }
}
