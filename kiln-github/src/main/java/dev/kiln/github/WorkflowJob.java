package dev.kiln.github;

import java.time.Instant;
import java.util.List;

/**
 * A workflow job as the REST API lists it. {@code conclusion}, {@code runnerId} and {@code runnerName}
 * are null until they are known.
 */
public record WorkflowJob(long id, long runId, String owner, String repo, String name, String status,
        String conclusion, List<String> labels, Long runnerId, String runnerName, Instant createdAt) {
    public WorkflowJob {
        labels = List.copyOf(labels);
    }

    /**
     * The job as a {@code workflow_job} event of {@code action}, for what a webhook should have said (a
     * reconciler's stand-in for a lost delivery, named by {@code source}).
     *
     * @param repositoryId the repository's id, 0 when unknown (Kiln keys jobs by owner and name)
     * @param organization the owner when it is an organisation, else null
     */
    public WorkflowJobEvent asEvent(String source, WorkflowJobEvent.Action action, long repositoryId, String organization,
            long installationId) {
        return new WorkflowJobEvent(source, action, id, runId, 1, name, null, repositoryId, owner, repo, organization,
                installationId, labels, runnerId, runnerName, null, null, status, conclusion, createdAt, null, null, null,
                null, null, null);
    }
}
