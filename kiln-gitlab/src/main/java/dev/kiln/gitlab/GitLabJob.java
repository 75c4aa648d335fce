package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

import java.util.List;

/**
 * A job as GitLab's Jobs API describes it: only what Kiln uses. {@code tags} is the job's {@code tag_list};
 * {@code runnerId} the runner that took it, null until one did; {@code pipelineId} its pipeline ({@code pipeline.id}),
 * null when GitLab did not say.
 */
public record GitLabJob(long id, long projectId, String name, String status, List<String> tags, Long runnerId,
        Long pipelineId) {

    public GitLabJob(long id, long projectId, String name, String status, List<String> tags, Long runnerId) {
        this(id, projectId, name, status, tags, runnerId, null);
    }

    public GitLabJob {
        requireNonNull(name, "name is null");
        requireNonNull(status, "status is null");
        tags = List.copyOf(tags);
    }
}
