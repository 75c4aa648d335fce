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
}
