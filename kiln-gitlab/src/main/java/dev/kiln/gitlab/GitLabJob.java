package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

import java.util.List;

/** A job as GitLab's Jobs API describes it: only what Kiln uses. {@code tags} is the job's {@code tag_list}. */
public record GitLabJob(long id, long projectId, String name, String status, List<String> tags) {
    public GitLabJob {
        requireNonNull(name, "name is null");
        requireNonNull(status, "status is null");
        tags = List.copyOf(tags);
    }
}
