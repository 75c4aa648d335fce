package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * How long to hold back after failures in a row: {@code first} after the first, doubling with each further one,
 * never more than {@code max}. One curve for every retry of a provider's calls and launches, so that they agree.
 */
public record BackoffCurve(Duration first, Duration max) {
    /** Kiln's curve for a provider that fails: 30 s doubling to 10 min. */
    public static final BackoffCurve PROVIDER = new BackoffCurve(Duration.ofSeconds(30), Duration.ofMinutes(10));

    public BackoffCurve {
        requireNonNull(first, "first is null");
        requireNonNull(max, "max is null");
        if (first.isNegative() || first.isZero() || max.compareTo(first) < 0) {
            throw new IllegalArgumentException("a backoff starts above zero and ends at or above its start: first "
                    + first + ", max " + max);
        }
    }

    /** The delay after {@code failures} failures in a row (the first failure is 1); none before any. */
    public Duration after(int failures) {
        if (failures <= 0) {
            return Duration.ZERO;
        }
        // Doubling past 2^20 is far beyond any max; capping the shift keeps the product from overflowing.
        Duration delay = first.multipliedBy(1L << Math.min(failures - 1, 20));
        return delay.compareTo(max) > 0 ? max : delay;
    }
}
