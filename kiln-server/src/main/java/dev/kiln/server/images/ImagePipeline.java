package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.server.Database;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.HashSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the configured images fresh. Each pass, for every kept image: a build is due when the image is missing, when
 * the schedule says so (a week after its last build, by the injected clock), when Debian's security suite has a newer
 * version of a package the image holds ({@link SecurityUpdates}, looked at every {@code security-poll}), or, for an image
 * that carries the runner, when the runner's latest release is not the one it carries. The build gets the release's tarball, verified
 * against its published SHA-256, builds the recipe by digest without moving the name, and boots it (the smoke test).
 * Only a proven image is rolled out: its digest is offered to every host ({@link #prefetch}), and once every online
 * host that runs its arch holds it (or after the rollout timeout) the name moves. A failed download, build or smoke
 * test leaves the name where it was, recorded for {@code kiln image list}, in {@code image_builds} and in the log; it
 * is tried again for the same reason only after {@code retryAfter}.
 *
 * <p>One thread, its own: a pass is long (a build takes minutes), and rollouts move on between passes.
 */
public final class ImagePipeline implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ImagePipeline.class);

    /** Builds a kept image's recipe by digest without moving its name ({@code ImageBuilder#buildCandidate}). */
    @FunctionalInterface
    public interface Builds {
        /**
         * @param runnerTarball the verified runner tarball to install, or null for an image without the runner
         * @param buildDate the day the image records as its runner's installation
         */
        ImageManifest build(PipelineConfig.KeptImage image, Path runnerTarball, LocalDate buildDate, PrintStream progress);
    }

    /** Boots a new image and returns what proved it, or throws saying why it is refused ({@code ImageSmokeTest}). */
    @FunctionalInterface
    public interface Smoke {
        String check(ImageManifest image);
    }

    /** Makes the pipeline of a server, on its database, clock and image store. */
    @FunctionalInterface
    public interface Factory {
        ImagePipeline create(Database db, InstantSource clock, ImageStore images);
    }

    public static Factory factory(PipelineConfig config, Builds builds, Smoke smoke) {
        requireNonNull(config, "config is null");
        requireNonNull(builds, "builds is null");
        requireNonNull(smoke, "smoke is null");
        PipelineConfig.Security security = config.security();
        if (security.keyring() != null && InReleaseSignature.gpgv() == null) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, ("the image pipeline checks Debian's security"
                    + " suite with gpgv against %s, and gpgv is not installed: apt-get install gpgv (bin/setup does), or"
                    + " set security-keyring = none to read its Release unchecked").formatted(security.keyring()));
        }
        InReleaseSignature signature = security.keyring() == null ? null
                : new InReleaseSignature(security.keyring(), config.workDir().resolve("security"));
        if (signature == null) {
            log.warn("image pipeline: security-keyring = none: Debian's security Release at {} is read unsigned",
                    security.mirror());
        }
        return (db, clock, images) -> new ImagePipeline(config, db, clock, images, builds, smoke,
                new RunnerReleases(config.releasesApi(), config.downloadUrl(), RunnerReleases.defaultClient()),
                new SecurityIndex(security.mirror(), signature, RunnerReleases.defaultClient(), clock));
    }

    /** A proven build waiting for the hosts to prefetch it before its name moves. */
    private record Rollout(PipelineConfig.KeptImage kept, ImageManifest image, String buildId, Instant since) {}

    private final PipelineConfig config;
    private final InstantSource clock;
    private final ImageStore images;
    private final Builds builds;
    private final Smoke smoke;
    private final RunnerReleases releases;
    private final SecurityUpdates security;
    private final BuildRecords records;
    private final HostImages hosts;
    private final Thread thread;
    private final Object wake = new Object();
    private volatile boolean stopped;
    private volatile List<String> offered = List.of();
    /** Guarded by this. */
    private final Map<String, Rollout> rollouts = new LinkedHashMap<>();
    /** When each name was first seen without a build of the pipeline's: its schedule counts from then. Pass thread only. */
    private final Map<String, Instant> firstSeen = new HashMap<>();
    /** The last time the release was asked for, per arch, and what it said. Pass thread only. */
    private final Map<Arch, Instant> lastPoll = new HashMap<>();
    private final Map<Arch, RunnerRelease> latest = new HashMap<>();
    /** The day each name's runner age was last looked at: warned of once a day. Pass thread only. */
    private final Map<String, LocalDate> warned = new HashMap<>();

    ImagePipeline(PipelineConfig config, Database db, InstantSource clock, ImageStore images, Builds builds, Smoke smoke,
            RunnerReleases releases, SecurityIndex security) {
        this.config = requireNonNull(config, "config is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.images = requireNonNull(images, "images is null");
        this.builds = requireNonNull(builds, "builds is null");
        this.smoke = requireNonNull(smoke, "smoke is null");
        this.releases = requireNonNull(releases, "releases is null");
        this.security = new SecurityUpdates(requireNonNull(security, "security is null"), config, images);
        this.records = new BuildRecords(db);
        this.hosts = new HostImages(db);
        this.thread = Thread.ofPlatform().name("kiln-image-pipeline").daemon().unstarted(this::loop);
    }

    public void start() {
        int abandoned = records.abandonUnfinished(clock.millis());
        if (abandoned > 0) {
            log.warn("image pipeline: {} build(s) of an earlier server never ended; recorded as failed", abandoned);
        }
        thread.start();
    }

    /**
     * The digests every host should hold before a launch names them: the builds being rolled out, the current digest
     * of every kept name (so that a host that joins later has them before its first launch) and the one its rollback
     * returns to. An agent removes the images it prefetched once they leave this list and no VM of its uses them.
     * Read on every sync answer: computed by the pipeline's thread, not here.
     */
    public List<String> prefetch() {
        return offered;
    }

    /** Recomputes {@link #prefetch}. */
    private void offer() {
        LinkedHashSet<String> digests = new LinkedHashSet<>();
        synchronized (this) {
            rollouts.values().forEach(rollout -> digests.add(rollout.image().digest()));
        }
        for (PipelineConfig.KeptImage kept : config.images()) {
            try {
                images.findByName(kept.name()).ifPresent(image -> digests.add(image.digest()));
                images.previous(kept.name()).ifPresent(digests::add);
            } catch (RuntimeException e) {
                log.debug("image pipeline: cannot read the name {}: {}", kept.name(), e.getMessage());
            }
        }
        List<String> now = List.copyOf(digests);
        if (!now.equals(offered)) {
            offered = now;
            // The hosts' held syncs wake and answer with the new offer at once, not when their hold ends.
            hosts.offerChanged();
        }
    }

    /**
     * Removes the builds of kept names that nothing needs any more: no name points at them, no rollback returns to
     * them, no job that has not ended names them (a job keeps the digest it was submitted with), and they are not
     * being rolled out. A refused build goes too.
     */
    private void prune() {
        Set<String> kept = new HashSet<>();
        config.images().forEach(image -> kept.add(image.name()));
        Set<String> needed = new HashSet<>(images.namesByDigest().keySet());
        needed.addAll(images.rollbackDigests());
        needed.addAll(offered);
        needed.addAll(records.imagesOfUnfinishedJobs());
        for (ImageManifest image : images.list()) {
            if (kept.contains(image.name()) && !needed.contains(image.digest())) {
                try {
                    images.remove(image);
                    log.info("image pipeline: removed {} ({}), which nothing uses any more", image.name(), image.digest());
                } catch (RuntimeException e) {
                    log.warn("image pipeline: cannot remove {} ({}): {}", image.name(), image.digest(), e.getMessage());
                }
            }
        }
    }

    private void loop() {
        while (!stopped) {
            try {
                pass();
            } catch (RuntimeException e) {
                log.error("image pipeline: a pass failed; the next one runs in {} ms", config.tick().toMillis(), e);
            }
            synchronized (wake) {
                if (stopped) {
                    return;
                }
                try {
                    wake.wait(config.tick().toMillis());
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /** One look at every kept image's triggers, then at the rollouts. */
    void pass() {
        offer();
        for (PipelineConfig.KeptImage kept : config.images()) {
            if (stopped) {
                return;
            }
            synchronized (this) {
                if (rollouts.containsKey(kept.name())) {
                    continue;
                }
            }
            dueBuild(kept).ifPresent(reason -> build(kept, reason));
            offer();
        }
        if (advanceRollouts()) {
            offer();
            prune();
        }
    }

    /** Why the image should be built now, or nothing. */
    private Optional<String> dueBuild(PipelineConfig.KeptImage kept) {
        Instant now = clock.instant();
        Optional<ImageManifest> current = images.findByName(kept.name());
        List<String> reasons = new ArrayList<>();
        RunnerRelease release = null;
        if (kept.runner()) {
            release = latestRelease(kept.arch(), now);
            if (release == null) {
                // Nothing to build it with until the releases answer: a runner image is never built without its runner.
                return Optional.empty();
            }
            if (current.isEmpty() || !release.version().equals(current.get().runnerVersion())) {
                reasons.add("runner " + release.version() + " released " + release.publishedAt());
            }
        }
        if (current.isEmpty()) {
            reasons.add("no image is named " + kept.name());
        } else {
            Instant since = records.lastMoved(kept.name()).map(Instant::ofEpochMilli)
                    .orElseGet(() -> firstSeen.computeIfAbsent(kept.name(), name -> now));
            if (!now.isBefore(since.plus(config.schedule()))) {
                reasons.add("scheduled (last build " + since + ", every " + config.schedule() + ")");
            }
            security.reason(kept, current.get(), now).ifPresent(reasons::add);
            LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
            if (!today.equals(warned.put(kept.name(), today))) {
                current.get().runnerAgeWarning(today).ifPresent(warning -> log.warn("image pipeline: {}", warning));
            }
        }
        if (reasons.isEmpty()) {
            return Optional.empty();
        }
        String reason = String.join("; ", reasons);
        Optional<BuildRecords.Build> last = records.last(kept.name());
        if (last.isPresent() && last.get().trigger().equals(reason)
                && (last.get().outcome().equals(BuildRecords.FAILED) || reason.contains(SecurityUpdates.REASON))
                && now.isBefore(Instant.ofEpochMilli(last.get().startedAt()).plus(config.retryAfter()))) {
            // Built for this very reason lately: failed, or (a security update) moved and still lacking it, the build's
            // mirror lagging the checked one; tried again after retryAfter, not at every pass.
            return Optional.empty();
        }
        return Optional.of(reason);
    }

    /** The runner's latest release for the arch, asked at most once per poll interval; null while it cannot be had. */
    private RunnerRelease latestRelease(Arch arch, Instant now) {
        Instant asked = lastPoll.get(arch);
        if (asked == null || !now.isBefore(asked.plus(config.releasePoll()))) {
            lastPoll.put(arch, now);
            try {
                RunnerRelease release = releases.latest(arch);
                if (latest.get(arch) == null || !latest.get(arch).version().equals(release.version())) {
                    log.info("image pipeline: the runner's latest release for {} is {} ({}, published {})", arch,
                            release.version(), release.assetName(), release.publishedAt());
                }
                latest.put(arch, release);
            } catch (KilnException e) {
                // The images stay as they are (no build from what an earlier poll said: its download would come from
                // the same place); the release is asked for again at the next poll.
                latest.remove(arch);
                log.warn("image pipeline: cannot learn the runner's latest release for {}; the images stay as they are: {}",
                        arch, e.getMessage());
                for (PipelineConfig.KeptImage kept : config.images()) {
                    if (kept.runner() && kept.arch() == arch) {
                        images.recordFailure(kept.name(), now, "cannot learn the runner's latest release: " + e.getMessage());
                    }
                }
            }
        }
        return latest.get(arch);
    }

    private void build(PipelineConfig.KeptImage kept, String reason) {
        Instant started = clock.instant();
        RunnerRelease release = kept.runner() ? latest.get(kept.arch()) : null;
        String buildId = records.started(kept, reason, release == null ? null : release.version(), started.toEpochMilli());
        Path logFile = config.workDir().resolve("logs").resolve(kept.name() + "-" + buildId + ".log");
        log.info("image pipeline: building {} ({} for {}): {}; its output in {}", kept.name(), kept.recipe(), kept.arch(),
                reason, logFile);
        ImageManifest image = null;
        try {
            Files.createDirectories(logFile.getParent());
            Path tarball = release == null ? null : releases.download(release, config.workDir().resolve("runner"));
            try (PrintStream progress = new PrintStream(Files.newOutputStream(logFile), true,
                    java.nio.charset.StandardCharsets.UTF_8)) {
                image = builds.build(kept, tarball, LocalDate.ofInstant(started, ZoneOffset.UTC), progress);
            }
            String proof = smoke.check(image);
            log.info("image pipeline: {} proved: {}; rolling it out", kept.name(), proof);
            records.rollingOut(buildId, image.digest(), proof);
            synchronized (this) {
                rollouts.put(kept.name(), new Rollout(kept, image, buildId, clock.instant()));
            }
        } catch (IOException | RuntimeException e) {
            // Whatever went wrong, the name stays and the build is recorded as failed, never left BUILDING.
            String why = (image == null ? "" : "build " + image.shortDigest() + ": ")
                    + (e instanceof KilnException ? e.getMessage() : e.toString());
            log.warn("image pipeline: {} stays on {}: {} (build output in {})", kept.name(),
                    images.findByName(kept.name()).map(ImageManifest::shortDigest).orElse("no image"), why, logFile);
            images.recordFailure(kept.name(), clock.instant(), why);
            records.ended(buildId, BuildRecords.FAILED, image == null ? null : image.digest(), why, clock.millis());
        }
    }

    /** Moves each rolled-out name once its hosts hold the new digest, or once the rollout timed out; true if any moved. */
    private boolean advanceRollouts() {
        boolean moved = false;
        List<Rollout> pending;
        synchronized (this) {
            pending = List.copyOf(rollouts.values());
        }
        Instant now = clock.instant();
        for (Rollout rollout : pending) {
            HostImages.Lacking lacking = hosts.lacking(rollout.image().digest(), rollout.kept().arch());
            boolean timedOut = !now.isBefore(rollout.since().plus(config.rolloutTimeout()));
            if (!lacking.hosts().isEmpty() && !timedOut) {
                continue;
            }
            String previous = images.findByName(rollout.kept().name()).map(ImageManifest::digest).orElse("none");
            images.moveName(rollout.kept().name(), rollout.image().digest());
            String how = lacking.hosts().isEmpty()
                    ? "every host that runs " + rollout.kept().arch() + " holds it"
                    : "after " + config.rolloutTimeout() + " hosts " + lacking.hosts() + " still lacked it (they fetch it at a launch)";
            if (!lacking.silent().isEmpty()) {
                how += "; hosts " + lacking.silent() + " do not report their images";
            }
            log.info("image pipeline: {} moved from {} to {}: {}", rollout.kept().name(), previous, rollout.image().digest(), how);
            records.ended(rollout.buildId(), BuildRecords.MOVED, rollout.image().digest(), how, now.toEpochMilli());
            synchronized (this) {
                rollouts.remove(rollout.kept().name());
            }
            moved = true;
        }
        return moved;
    }

    @Override
    public void close() {
        stopped = true;
        synchronized (wake) {
            wake.notifyAll();
        }
        // A build in progress is interrupted (its script is killed and the store left unchanged).
        thread.interrupt();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
