package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * How many jobs an organisation or a repository may have reserved or running at once. Names compare
 * without regard to case, as GitHub's do. A limit of 0 holds every job of that organisation or
 * repository in the queue.
 *
 * @param perOrg the limit of an organisation not named in {@code orgs}
 * @param perRepo the limit of a repository not named in {@code repos}
 * @param orgs limits by organisation, overriding {@code perOrg}
 * @param repos limits by repository full name ({@code acme/web}), overriding {@code perRepo}
 */
public record ConcurrencyLimits(int perOrg, int perRepo, Map<String, Integer> orgs, Map<String, Integer> repos) {
    public static final int UNLIMITED = Integer.MAX_VALUE;

    public ConcurrencyLimits {
        checkLimit("perOrg", perOrg);
        checkLimit("perRepo", perRepo);
        orgs = lowerCased("orgs", orgs);
        repos = lowerCased("repos", repos);
    }

    public static ConcurrencyLimits unlimited() {
        return new ConcurrencyLimits(UNLIMITED, UNLIMITED, Map.of(), Map.of());
    }

    /**
     * These limits with the given organisations' limits lowered to {@code caps} where a cap is lower (a cap
     * never raises a limit set here); for the GitHub App's {@code org-cap.<owner>}.
     */
    public ConcurrencyLimits withOrgCaps(Map<String, Integer> caps) {
        Map<String, Integer> merged = new HashMap<>(orgs);
        requireNonNull(caps, "caps is null").forEach((org, cap) -> merged.merge(key(org), Math.min(cap, forOrg(org)), Math::min));
        return new ConcurrencyLimits(perOrg, perRepo, merged, repos);
    }

    public int forOrg(String org) {
        return orgs.getOrDefault(key(org), perOrg);
    }

    public int forRepo(String repo) {
        return repos.getOrDefault(key(repo), perRepo);
    }

    static String key(String name) {
        return name.toLowerCase(Locale.ROOT);
    }

    private static Map<String, Integer> lowerCased(String what, Map<String, Integer> limits) {
        requireNonNull(limits, what + " is null");
        Map<String, Integer> copy = new HashMap<>();
        limits.forEach((name, limit) -> {
            PendingJob.checkName(what + " key", name);
            checkLimit(what + "[" + name + "]", requireNonNull(limit, what + "[" + name + "] is null"));
            if (copy.put(key(name), limit) != null) {
                throw new IllegalArgumentException(what + " names '" + name + "' twice (names ignore case)");
            }
        });
        return Map.copyOf(copy);
    }

    private static void checkLimit(String what, int limit) {
        if (limit < 0) {
            throw new IllegalArgumentException(what + " must be 0 or more, got " + limit);
        }
    }
}
