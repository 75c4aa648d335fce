package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * A {@code workflow_job} delivery. Fields GitHub leaves null until known are null here: {@code runnerId},
 * {@code runnerName}, {@code runnerGroupId}, {@code runnerGroupName} (null while queued), {@code conclusion}
 * and {@code completedAt} (null until completed), {@code organization} (a user's repository),
 * {@code installationId} (a repository hook), {@code workflowName}, {@code headBranch}, {@code startedAt}, {@code sender}
 * (the login of the user who triggered the run: absent from the REST API's jobs, so null for a reconciler's event).
 */
public record WorkflowJobEvent(
        String deliveryId,
        Action action,
        long jobId,
        long runId,
        int runAttempt,
        String jobName,
        String workflowName,
        long repositoryId,
        String owner,
        String repo,
        String organization,
        Long installationId,
        List<String> labels,
        Long runnerId,
        String runnerName,
        Long runnerGroupId,
        String runnerGroupName,
        String status,
        String conclusion,
        Instant createdAt,
        Instant startedAt,
        Instant completedAt,
        String headSha,
        String headBranch,
        String htmlUrl,
        String sender) implements WebhookEvent {

    /** The transitions GitHub reports. */
    public enum Action {
        QUEUED, WAITING, IN_PROGRESS, COMPLETED;

        public String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public WorkflowJobEvent {
        requireNonNull(deliveryId, "deliveryId is null");
        requireNonNull(action, "action is null");
        requireNonNull(owner, "owner is null");
        requireNonNull(repo, "repo is null");
        requireNonNull(status, "status is null");
        labels = List.copyOf(labels);
    }

    @Override
    public String event() {
        return "workflow_job";
    }

    public String repositoryFullName() {
        return owner + "/" + repo;
    }
}
