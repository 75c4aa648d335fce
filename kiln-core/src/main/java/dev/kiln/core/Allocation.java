package dev.kiln.core;

import static java.util.Objects.requireNonNull;

/**
 * A job that holds part of a host: reserved (the scheduler chose the host) or running. Organisation
 * and repository count towards the concurrency limits.
 */
public record Allocation(JobId job, Size size, String org, String repo) {
    public Allocation {
        requireNonNull(job, "job is null");
        requireNonNull(size, "size is null");
        PendingJob.checkName("org", org);
        PendingJob.checkName("repo", repo);
    }
}
