package dev.kiln.github;

import java.time.Instant;

/** GitHub's primary rate limit as the last answer for one credential told it. */
public record RateLimit(long limit, long remaining, Instant reset) {}
