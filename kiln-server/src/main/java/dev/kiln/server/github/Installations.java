package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.github.GitHubApp;
import dev.kiln.github.Installation;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The App's installations as minting needs them (their account type and permissions decide where a runner
 * registers), each looked up at most once per {@link #TTL}. Thread-safe; one lookup runs at a time, so the
 * mints of a burst that all miss the cache wait for one answer instead of each asking GitHub.
 */
final class Installations {
    static final Duration TTL = Duration.ofMinutes(10);

    private record Cached(Installation installation, Instant at) {}

    private final GitHubApp github;
    private final InstantSource clock;
    private final Map<Long, Cached> cache = new ConcurrentHashMap<>();
    private final ReentrantLock lookup = new ReentrantLock();

    Installations(GitHubApp github, InstantSource clock) {
        this.github = requireNonNull(github, "github is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    Installation get(long id) {
        Installation fresh = cached(id);
        if (fresh != null) {
            return fresh;
        }
        lookup.lock();
        try {
            fresh = cached(id);
            if (fresh == null) {
                fresh = github.installation(id);
                cache.put(id, new Cached(fresh, clock.instant()));
            }
            return fresh;
        } finally {
            lookup.unlock();
        }
    }

    private Installation cached(long id) {
        Cached cached = cache.get(id);
        return cached != null && clock.instant().isBefore(cached.at().plus(TTL)) ? cached.installation() : null;
    }
}
