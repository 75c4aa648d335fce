package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageStore;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * What the image pipeline keeps fresh, and when. Read from a properties file by {@link #read}, which lists every
 * problem at once; defaults in {@link #defaults}.
 *
 * @param images the images kept: each a recipe built for an arch under a name
 * @param schedule a kept image is rebuilt this long after its last build (default a week)
 * @param releasePoll how often the runner's latest release is asked for (default an hour)
 * @param retryAfter a failed build is not tried again for the same reason before this (default 6 h)
 * @param rolloutTimeout how long a new digest waits for hosts to prefetch it before its name moves anyway (default
 *     30 min; a host that has not fetched it by then fetches it at its next launch, as before)
 * @param releasesApi the releases API's base: {@code https://api.github.com}, or GitHub Enterprise's
 *     {@code https://HOST/api/v3}
 * @param downloadUrl a mirror of the runner's tarballs laid out as {@code https://github.com/actions/runner/releases/download}
 *     ({@code BASE/vX.Y.Z/actions-runner-linux-x64-X.Y.Z.tar.gz}), or null for the release's own URLs
 * @param workDir where downloads and build logs are kept
 * @param tick how often the pipeline looks at its triggers and rollouts (real time; default 5 s)
 * @param security where and how often Debian's security updates are looked for
 */
public record PipelineConfig(List<KeptImage> images, Duration schedule, Duration releasePoll, Duration retryAfter,
        Duration rolloutTimeout, URI releasesApi, URI downloadUrl, Path workDir, Duration tick, Security security) {

    /**
     * Debian's security updates: an image whose packages have a newer version in its suite's security suite
     * ({@code bookworm-security}) is rebuilt.
     *
     * @param mirror the security archive ({@code http://deb.debian.org/debian-security}); its {@code dists/SUITE/}
     * @param poll how often its index is looked at (default 6 h; an unchanged index costs a 304 or one small file)
     * @param keyring the archive's keyring that {@code InRelease} is checked against with gpgv (Debian's, from
     *     debian-archive-keyring), or null to read {@code Release} unchecked ({@code security-keyring = none})
     */
    public record Security(URI mirror, Duration poll, Path keyring) {
        public static final URI DEBIAN = URI.create("http://deb.debian.org/debian-security");
        public static final Path DEBIAN_KEYRING = Path.of("/usr/share/keyrings/debian-archive-keyring.gpg");

        public Security {
            requireNonNull(mirror, "mirror is null");
            requireNonNull(poll, "poll is null");
        }
    }

    /**
     * An image the pipeline keeps.
     *
     * @param runner whether it carries the official runner (its tarball comes from the runner's latest release)
     */
    public record KeptImage(String recipe, Arch arch, String name, boolean runner) {
        public KeptImage {
            requireNonNull(recipe, "recipe is null");
            requireNonNull(arch, "arch is null");
            requireNonNull(name, "name is null");
        }

        /** The recipe under its default name for the arch: {@code runner}, {@code runner-arm64}. */
        public static KeptImage of(String recipe, Arch arch) {
            return new KeptImage(recipe, arch, ImageStore.nameFor(recipe, arch), recipe.equals("runner"));
        }
    }

    public static final URI GITHUB_API = URI.create("https://api.github.com");

    public PipelineConfig {
        images = List.copyOf(images);
        requireNonNull(schedule, "schedule is null");
        requireNonNull(releasePoll, "releasePoll is null");
        requireNonNull(retryAfter, "retryAfter is null");
        requireNonNull(rolloutTimeout, "rolloutTimeout is null");
        requireNonNull(releasesApi, "releasesApi is null");
        requireNonNull(workDir, "workDir is null");
        requireNonNull(tick, "tick is null");
        requireNonNull(security, "security is null");
    }

    public static PipelineConfig defaults(List<KeptImage> images, Path workDir) {
        return new PipelineConfig(images, Duration.ofDays(7), Duration.ofHours(1), Duration.ofHours(6),
                Duration.ofMinutes(30), GITHUB_API, null, workDir, Duration.ofSeconds(5),
                new Security(Security.DEBIAN, Duration.ofHours(6), Security.DEBIAN_KEYRING));
    }

    public PipelineConfig withReleases(URI api, URI downloads) {
        return new PipelineConfig(images, schedule, releasePoll, retryAfter, rolloutTimeout, api, downloads, workDir, tick,
                security);
    }

    public PipelineConfig withSecurity(Security newSecurity) {
        return new PipelineConfig(images, schedule, releasePoll, retryAfter, rolloutTimeout, releasesApi, downloadUrl,
                workDir, tick, newSecurity);
    }

    public PipelineConfig withTimes(Duration newSchedule, Duration newReleasePoll, Duration newRetryAfter,
            Duration newRolloutTimeout, Duration newTick) {
        return new PipelineConfig(images, newSchedule, newReleasePoll, newRetryAfter, newRolloutTimeout, releasesApi,
                downloadUrl, workDir, newTick, security);
    }

    private static final Set<String> KEYS = Set.of("keep", "schedule", "release-poll", "retry-after", "rollout-timeout",
            "releases-api", "download-url", "security-mirror", "security-poll", "security-keyring");

    /**
     * Reads {@code keep} (comma-separated {@code RECIPE} or {@code RECIPE/ARCH}, such as {@code runner,
     * runner/arm64, default}), {@code schedule}, {@code release-poll}, {@code retry-after}, {@code rollout-timeout}
     * (ISO-8601 durations such as {@code P7D}, {@code PT1H}, or {@code 7d}, {@code 1h}, {@code 30m}),
     * {@code releases-api}, {@code download-url}, {@code security-mirror}, {@code security-poll} and
     * {@code security-keyring} (a keyring file, or {@code none} to read the security suite's Release unchecked);
     * every problem at once.
     */
    public static PipelineConfig read(Properties properties, List<String> recipes, Path workDir) {
        List<String> problems = new ArrayList<>();
        for (String key : properties.stringPropertyNames()) {
            if (!KEYS.contains(key)) {
                String hint = KEYS.stream().filter(k -> distance(k, key) <= 2).sorted().findFirst()
                        .map(k -> " (did you mean " + k + "?)").orElse("");
                problems.add("unknown key '" + key + "'" + hint + "; the keys are " + new java.util.TreeSet<>(KEYS));
            }
        }
        List<KeptImage> images = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (String entry : properties.getProperty("keep", "").split(",")) {
            String item = entry.strip();
            if (item.isEmpty()) {
                continue;
            }
            String[] parts = item.split("/", 2);
            Arch arch = parts.length == 2 ? Arch.parse(parts[1]).orElse(null) : Arch.X86_64;
            if (arch == null || arch == Arch.ANY) {
                problems.add("keep: '" + item + "' names arch '" + parts[1] + "'; the arches are x86_64 and arm64");
            } else if (!recipes.contains(parts[0])) {
                problems.add("keep: '" + item + "' names no recipe; the recipes are " + recipes);
            } else if (!names.add(ImageStore.nameFor(parts[0], arch))) {
                problems.add("keep: '" + item + "' is listed twice");
            } else {
                images.add(KeptImage.of(parts[0], arch));
            }
        }
        if (images.isEmpty() && problems.isEmpty()) {
            problems.add("keep: no image to keep; list recipes such as keep=runner,runner/arm64,default");
        }
        PipelineConfig defaults = defaults(images, workDir);
        Duration schedule = duration(properties, "schedule", defaults.schedule(), problems);
        Duration poll = duration(properties, "release-poll", defaults.releasePoll(), problems);
        Duration retry = duration(properties, "retry-after", defaults.retryAfter(), problems);
        Duration rollout = duration(properties, "rollout-timeout", defaults.rolloutTimeout(), problems);
        URI api = uri(properties, "releases-api", GITHUB_API, problems);
        URI downloads = uri(properties, "download-url", null, problems);
        URI securityMirror = uri(properties, "security-mirror", Security.DEBIAN, problems);
        Duration securityPoll = duration(properties, "security-poll", defaults.security().poll(), problems);
        String keyringText = properties.getProperty("security-keyring", Security.DEBIAN_KEYRING.toString()).strip();
        Path keyring = keyringText.equals("none") ? null : Path.of(keyringText);
        if (keyring != null && !java.nio.file.Files.isReadable(keyring)) {
            problems.add("security-keyring: " + keyring + " is not a readable keyring (apt-get install"
                    + " debian-archive-keyring, or run bin/setup; security-keyring = none reads Release unchecked)");
        }
        if (!problems.isEmpty()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the image pipeline's configuration has " + problems.size()
                    + " problem(s):\n  - " + String.join("\n  - ", problems));
        }
        return new PipelineConfig(images, schedule, poll, retry, rollout, api, downloads, workDir, defaults.tick(),
                new Security(securityMirror, securityPoll, keyring));
    }

    /** Levenshtein's distance, for the "did you mean" of a mistyped key. */
    static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            int[] row = new int[b.length() + 1];
            row[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                row[j] = Math.min(Math.min(row[j - 1], previous[j]) + 1,
                        previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            previous = row;
        }
        return previous[b.length()];
    }

    private static Duration duration(Properties properties, String key, Duration fallback, List<String> problems) {
        String text = properties.getProperty(key);
        if (text == null) {
            return fallback;
        }
        String value = text.strip().toLowerCase();
        try {
            Duration parsed;
            Map<Character, Duration> units = Map.of('d', Duration.ofDays(1), 'h', Duration.ofHours(1), 'm',
                    Duration.ofMinutes(1), 's', Duration.ofSeconds(1));
            if (value.matches("[0-9]+[dhms]")) {
                parsed = units.get(value.charAt(value.length() - 1))
                        .multipliedBy(Long.parseLong(value.substring(0, value.length() - 1)));
            } else {
                parsed = Duration.parse(text.strip());
            }
            if (parsed.isNegative() || parsed.isZero()) {
                problems.add(key + " must be positive, got " + text);
            }
            return parsed;
        } catch (RuntimeException e) {
            problems.add(key + ": '" + text + "' is not a duration such as 7d, 1h, 30m or P7D");
            return fallback;
        }
    }

    private static URI uri(Properties properties, String key, URI fallback, List<String> problems) {
        String text = properties.getProperty(key);
        if (text == null) {
            return fallback;
        }
        try {
            URI uri = URI.create(text.strip());
            if (uri.getScheme() == null || !uri.getScheme().matches("https?") || uri.getHost() == null) {
                problems.add(key + ": '" + text + "' is not an http(s) URL");
            }
            return uri;
        } catch (IllegalArgumentException e) {
            problems.add(key + ": '" + text + "' is not a URL");
            return fallback;
        }
    }
}
