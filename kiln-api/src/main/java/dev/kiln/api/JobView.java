package dev.kiln.api;

import dev.kiln.core.JobState;
import java.util.List;

/**
 * A job as the API shows it.
 *
 * @param host the host it is reserved on or ran on; null while queued
 * @param vm the VM that runs it; null while queued
 * @param exitCode the command's exit code, when the guest reported one
 * @param errorCode why it failed, as an {@link dev.kiln.core.ErrorCode} name (BOOT_FAILED, INSUFFICIENT_CAPACITY…)
 * @param timeline every state the job entered, oldest first; empty in listings
 * @param kind {@code local} (a command) or {@code github} (a runner demand for a queued GitHub job)
 * @param github for a GitHub job: what was asked for and what really ran; null otherwise
 * @param imageDigest the digest of the image its VM booted ({@code sha256:…}), as the VM's host reported it; null
 *     until the VM booted (and for a VM whose agent is older than the report of it)
 * @param gitlab for a GitLab job: the GitLab job it was made for; null otherwise
 */
public record JobView(String id, JobState state, List<String> command, String image, int cpus, long memoryMib,
        int diskGib, String arch, String org, String repo, int priority, String host, String vm, Integer exitCode,
        String errorCode, String detail, String createdAt, String updatedAt, List<JobEvent> timeline, String kind,
        GitHubJob github, String imageDigest, GitLabJob gitlab) {

    public JobView(String id, JobState state, List<String> command, String image, int cpus, long memoryMib,
            int diskGib, String arch, String org, String repo, int priority, String host, String vm, Integer exitCode,
            String errorCode, String detail, String createdAt, String updatedAt, List<JobEvent> timeline, String kind,
            GitHubJob github) {
        this(id, state, command, image, cpus, memoryMib, diskGib, arch, org, repo, priority, host, vm, exitCode,
                errorCode, detail, createdAt, updatedAt, timeline, kind, github, null, null);
    }

    /** The same view with its provider's side: a GitHub job's. */
    public JobView withGitHub(GitHubJob side) {
        return new JobView(id, state, command, image, cpus, memoryMib, diskGib, arch, org, repo, priority, host, vm,
                exitCode, errorCode, detail, createdAt, updatedAt, timeline, kind, side, imageDigest, gitlab);
    }

    /** The same view with its provider's side: a GitLab job's. */
    public JobView withGitLab(GitLabJob side) {
        return new JobView(id, state, command, image, cpus, memoryMib, diskGib, arch, org, repo, priority, host, vm,
                exitCode, errorCode, detail, createdAt, updatedAt, timeline, kind, github, imageDigest, side);
    }

    public JobView(String id, JobState state, List<String> command, String image, int cpus, long memoryMib,
            int diskGib, String arch, String org, String repo, int priority, String host, String vm, Integer exitCode,
            String errorCode, String detail, String createdAt, String updatedAt, List<JobEvent> timeline) {
        this(id, state, command, image, cpus, memoryMib, diskGib, arch, org, repo, priority, host, vm, exitCode, errorCode,
                detail, createdAt, updatedAt, timeline, "local", null);
    }

    /**
     * The GitHub side of a runner demand. A JIT runner takes any queued job whose labels match, so the job
     * that ran on the demand's runner ({@code ranJobId}) may differ from the one that asked for it ({@code jobId}).
     *
     * @param jobId the queued {@code workflow_job} this demand was made for
     * @param repository {@code owner/repo}; workflow and jobName as GitHub names them (of the job that ran, once known)
     * @param runnerName the JIT runner's name, {@code kiln-<vm>}; null until the runner is registered
     * @param ranJobId the job the runner took (from {@code in_progress}); null until then
     * @param conclusion GitHub's conclusion of the job that ran ({@code success}, {@code failure}, {@code cancelled}…)
     * @param startedAt when the job that ran started; completedAt when it completed (ISO-8601)
     */
    public record GitHubJob(long jobId, long runId, Long installationId, String repository, String workflow,
            String jobName, List<String> labels, String runnerName, Long ranJobId, String conclusion, String startedAt,
            String completedAt) {}

    /**
     * The GitLab side of a runner demand.
     *
     * @param jobId GitLab's id of the job the demand was made for
     * @param project the project's path ({@code group/project}); pipelineId its pipeline, null when not yet known
     * @param webUrl the GitLab instance the server serves ({@code https://gitlab.example.com}), which links start from
     */
    public record GitLabJob(long jobId, long projectId, String project, Long pipelineId, String name, String status,
            String webUrl) {}
}
