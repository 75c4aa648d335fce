package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.BackoffCurve;
import dev.kiln.core.ErrorCode;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Optional;

/**
 * Kiln's memory, across calls, of GitHub failing: once a call gave up (5xx, an unreachable GitHub, or a
 * rate limit longer than Kiln may wait) no request is sent until a delay has passed that doubles with each
 * call in a row that gave up, from {@link #FIRST} to at most {@link #MAX}, and never before GitHub's own
 * {@code retry-after}. Calls in that time fail at once without sending anything, so that the reconciler,
 * the reaper and the minting of every host's syncs do not hammer a GitHub that is down. While backing off
 * a call gets one attempt (the probe); the first answer that is not a failure ends the backoff. Thread-safe.
 */
final class Backoff {
    static final Duration FIRST = BackoffCurve.PROVIDER.first();
    static final Duration MAX = BackoffCurve.PROVIDER.max();

    private final InstantSource clock;
    // guarded by this
    private int failures;
    private Instant until = Instant.MIN;
    private String lastProblem = "";
    private long heldBack;

    Backoff(InstantSource clock) {
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Throws, without sending, while backing off. */
    synchronized void check(String route) {
        Instant now = clock.instant();
        if (now.isBefore(until)) {
            heldBack++;
            throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, 0, lastProblem, route + " was not sent: GitHub failed "
                    + failures + " call" + (failures == 1 ? "" : "s") + " in a row (the last: " + lastProblem + "); Kiln asks again after "
                    + until + ", in " + Duration.between(now, until).toSeconds() + " s", true);
        }
    }

    /** Whether calls get one attempt only: GitHub failed the last call, so a new one probes. */
    synchronized boolean probing() {
        return failures > 0;
    }

    /** A call gave up on {@code problem}; nothing is sent for the next delay, and not before {@code notBefore}. */
    synchronized void gaveUp(String problem, Instant notBefore) {
        failures++;
        Instant next = clock.instant().plus(BackoffCurve.PROVIDER.after(failures));
        until = next.isAfter(notBefore) ? next : notBefore;
        lastProblem = problem;
    }

    synchronized void answered() {
        failures = 0;
        until = Instant.MIN;
    }

    synchronized Optional<GitHubApp.Unavailable> state() {
        return failures == 0 ? Optional.empty() : Optional.of(new GitHubApp.Unavailable(failures, until, lastProblem, heldBack));
    }
}
