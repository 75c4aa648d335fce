package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

import java.util.Locale;

/**
 * What Kiln reads of a Job Hook ({@code object_kind: build}): the job, its project, its status, and the runner
 * that took it once one did. {@code projectPath} is null when the hook does not say it; {@code runnerId} is
 * null until a runner took the job.
 */
public record JobHook(long buildId, long projectId, String projectPath, String status, String name, Long runnerId) {
    public JobHook {
        requireNonNull(status, "status is null");
        requireNonNull(name, "name is null");
        status = status.toLowerCase(Locale.ROOT);
    }

    /** Waiting for a runner: the moment Kiln makes one. */
    public boolean pending() {
        return status.equals("pending");
    }

    /** GitLab's final statuses: nothing will run for this job any more. */
    public boolean finished() {
        return switch (status) {
            case "success", "failed", "canceled", "skipped" -> true;
            default -> false;
        };
    }
}
