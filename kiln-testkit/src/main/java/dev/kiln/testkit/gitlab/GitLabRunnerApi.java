package dev.kiln.testkit.gitlab;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import java.time.Duration;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The routes {@code gitlab-runner} speaks, authenticated by the runner's {@code glrt-} token or a job's
 * token, never by an access token:
 * <ul>
 *   <li>{@code POST /runners/verify} {@code token}: 200, or 403 for an unknown or deleted runner</li>
 *   <li>{@code DELETE /runners} {@code token}: the runner removes itself, 204</li>
 *   <li>{@code POST /jobs/request} {@code token}: 201 with the oldest pending job the runner may run (in its
 *       scope, every job tag among the runner's, untagged only with {@code run_untagged}), the job now running;
 *       204 when none, after holding the request up to the long poll when the runner sent {@code last_update};
 *       a runner still running a job gets none (Kiln's runners have {@code concurrent = 1})</li>
 *   <li>{@code PATCH /jobs/:id/trace} with {@code JOB-TOKEN} and {@code Content-Range: start-end}: 202 with
 *       {@code Range: 0-length}; 416 with the current {@code Range} when {@code start} is not the trace's
 *       length; 403 with {@code Job-Status} once the job is no longer running</li>
 *   <li>{@code PUT /jobs/:id} {@code token}, {@code state} ({@code running}, {@code success}, {@code failed}),
 *       {@code exit_code}, {@code failure_reason}: 200; 403 when the job is not running</li>
 * </ul>
 */
final class GitLabRunnerApi {
    private static final Pattern TRACE = Pattern.compile("^/api/v4/jobs/(\\d+)/trace$");
    private static final Pattern JOB = Pattern.compile("^/api/v4/jobs/(\\d+)$");
    private static final Pattern RANGE = Pattern.compile("^(\\d+)-(\\d+)$");
    static final int MAX_TRACE = 4 * 1024 * 1024;

    private final FakeGitLab gitlab;

    GitLabRunnerApi(FakeGitLab gitlab) {
        this.gitlab = gitlab;
    }

    GitLabApi.Answer route(String method, String path, Headers headers, GitLabApi.Params params, byte[] body) {
        Matcher m;
        if (method.equals("POST") && path.equals("/api/v4/runners/verify")) {
            synchronized (gitlab.lock) {
                GitLabState.Runner runner = runner(params.first("token"));
                if (runner == null) {
                    return GitLabApi.Answer.message(403, "403 Forbidden");
                }
                ObjectNode answer = FakeGitLab.JSON.createObjectNode();
                answer.put("id", runner.id);
                answer.put("token", runner.token);
                answer.putNull("token_expires_at");
                return GitLabApi.Answer.json(200, answer);
            }
        }
        if (method.equals("DELETE") && path.equals("/api/v4/runners")) {
            synchronized (gitlab.lock) {
                GitLabState.Runner runner = runner(params.first("token"));
                if (runner == null) {
                    return GitLabApi.Answer.message(403, "403 Forbidden");
                }
                runner.deleted = true;
                return GitLabApi.Answer.empty(204);
            }
        }
        if (method.equals("POST") && path.equals("/api/v4/jobs/request")) {
            return request(params);
        }
        if (method.equals("PATCH") && (m = TRACE.matcher(path)).matches()) {
            return trace(Long.parseLong(m.group(1)), headers, body);
        }
        if (method.equals("PUT") && (m = JOB.matcher(path)).matches()) {
            return update(Long.parseLong(m.group(1)), params);
        }
        return GitLabApi.Answer.error(404, "404 Not Found");
    }

    private GitLabApi.Answer request(GitLabApi.Params params) {
        String token = params.first("token");
        boolean longPoll = params.first("last_update") != null;
        long deadline = System.nanoTime() + gitlab.longPoll().toNanos();
        synchronized (gitlab.lock) {
            while (true) {
                GitLabState.Runner runner = runner(token);
                if (runner == null) {
                    return GitLabApi.Answer.message(403, "403 Forbidden");
                }
                runner.contactedAt = gitlab.now();
                GitLabState.Job job = runner.runningJob != null ? null : gitlab.state.jobs.values().stream()
                        .filter(j -> j.status.equals("pending") && runner.canRun(j))
                        .min(Comparator.comparingLong(j -> j.id)).orElse(null);
                if (job != null) {
                    job.status = "running";
                    job.runner = runner;
                    job.startedAt = gitlab.now();
                    runner.runningJob = job.id;
                    runner.jobsTaken.add(job.id);
                    gitlab.emit(job);
                    return GitLabApi.Answer.json(201, GitLabPayloads.runnerJob(gitlab, job));
                }
                long left = deadline - System.nanoTime();
                if (!longPoll || left <= 0) {
                    return GitLabApi.Answer.empty(204).with("X-GitLab-Last-Update", Long.toString(gitlab.state.jobs.size()));
                }
                try {
                    // Real time, not the clock's: this is Workhorse holding a connection, woken by new jobs.
                    gitlab.lock.wait(Math.max(1, Duration.ofNanos(left).toMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return GitLabApi.Answer.empty(204);
                }
            }
        }
    }

    private GitLabApi.Answer trace(long jobId, Headers headers, byte[] body) {
        synchronized (gitlab.lock) {
            GitLabState.Job job = gitlab.state.jobs.get(jobId);
            String jobToken = headers.getFirst("JOB-TOKEN");
            if (job == null || jobToken == null || !jobToken.equals(job.token)) {
                return GitLabApi.Answer.message(403, "403 Forbidden");
            }
            if (!job.status.equals("running")) {
                return GitLabApi.Answer.message(403, "403 Forbidden  - Job is not running").with("Job-Status", job.status);
            }
            String range = headers.getFirst("Content-Range");
            Matcher m = range == null ? null : RANGE.matcher(range.strip());
            if (m == null || !m.matches()) {
                return GitLabApi.Answer.message(400, "400 Bad request - Content-Range must be start-end");
            }
            long start = Long.parseLong(m.group(1));
            long end = Long.parseLong(m.group(2));
            int length = job.trace.size();
            if (start != length || end - start + 1 != body.length) {
                return GitLabApi.Answer.message(416, "416 Range Not Satisfiable").with("Range", "0-" + length).with("Job-Status", job.status);
            }
            if (length + body.length > MAX_TRACE) {
                return GitLabApi.Answer.message(403, "403 Forbidden - The trace is too big").with("Job-Status", job.status);
            }
            job.trace.writeBytes(body);
            return GitLabApi.Answer.empty(202).with("Range", "0-" + job.trace.size()).with("Job-Status", job.status)
                    .with("X-GitLab-Trace-Update-Interval", "3");
        }
    }

    private GitLabApi.Answer update(long jobId, GitLabApi.Params params) {
        synchronized (gitlab.lock) {
            GitLabState.Job job = gitlab.state.jobs.get(jobId);
            String token = params.first("token");
            if (job == null || token == null || !token.equals(job.token)) {
                return GitLabApi.Answer.message(403, "403 Forbidden");
            }
            if (!job.status.equals("running")) {
                return GitLabApi.Answer.message(403, "403 Forbidden  - Job is not running").with("Job-Status", job.status);
            }
            String state = params.first("state");
            if (state == null || !(state.equals("running") || state.equals("success") || state.equals("failed"))) {
                return GitLabApi.Answer.error(400, "state does not have a valid value");
            }
            String exit = params.first("exit_code");
            if (exit != null && !exit.matches("-?\\d+")) {
                return GitLabApi.Answer.error(400, "exit_code is invalid");
            }
            if (!state.equals("running")) {
                job.status = state;
                job.exitCode = exit == null ? null : Integer.valueOf(exit);
                job.failureReason = state.equals("failed") ? (params.first("failure_reason") == null ? "unknown_failure" : params.first("failure_reason")) : null;
                job.finishedAt = gitlab.now();
                job.runner.runningJob = null;
                gitlab.emit(job);
            }
            return GitLabApi.Answer.json(200, FakeGitLab.JSON.createObjectNode().put("id", job.id).put("status", job.status))
                    .with("Job-Status", job.status);
        }
    }

    /** A runner by its token, null when unknown or deleted. Called with the lock held. */
    private GitLabState.Runner runner(String token) {
        if (token == null) {
            return null;
        }
        return gitlab.state.runners.values().stream().filter(r -> !r.deleted && r.token.equals(token)).findFirst().orElse(null);
    }
}
