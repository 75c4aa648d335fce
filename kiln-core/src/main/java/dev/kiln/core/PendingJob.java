package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.time.Instant;

/**
 * A queued job waiting for a host.
 *
 * @param org the organisation (or user) that owns the repository
 * @param repo the repository's full name, e.g. {@code acme/web}; limits are keyed by it
 * @param priority higher runs first
 * @param sequence the order of arrival: lower came first; FIFO within a priority follows it
 * @param enqueuedAt when the job was queued; a job that has waited long has hosts held for it
 */
public record PendingJob(JobId id, Size size, String org, String repo, int priority, long sequence,
        Instant enqueuedAt) {
    static final int MAX_NAME_LENGTH = 256;

    public PendingJob {
        requireNonNull(id, "id is null");
        requireNonNull(size, "size is null");
        checkName("org", org);
        checkName("repo", repo);
        requireNonNull(enqueuedAt, "enqueuedAt is null");
        if (sequence < 0) {
            throw new IllegalArgumentException("sequence must not be negative, got " + sequence);
        }
    }

    static void checkName(String what, String name) {
        requireNonNull(name, what + " is null");
        if (name.isBlank() || name.length() > MAX_NAME_LENGTH) {
            throw new IllegalArgumentException(
                    what + " must be 1 to " + MAX_NAME_LENGTH + " characters and not blank, got " + name.length());
        }
    }
}
