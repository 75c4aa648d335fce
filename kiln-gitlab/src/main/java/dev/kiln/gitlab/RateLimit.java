package dev.kiln.gitlab;

/**
 * GitLab's rate limit for Kiln's token as its last answer with {@code RateLimit-*} headers told it.
 *
 * @param limit {@code RateLimit-Limit}: requests allowed per window; -1 when absent
 * @param remaining {@code RateLimit-Remaining}
 */
public record RateLimit(long limit, long remaining) {}
