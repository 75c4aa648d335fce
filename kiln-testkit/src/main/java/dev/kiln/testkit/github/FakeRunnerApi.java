package dev.kiln.testkit.github;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Comparator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The runner side of the fake, which Kiln's stand-in runner speaks (the real runner's protocol with the
 * Actions service is not reproduced). All calls carry {@code Authorization: Bearer <runner token>} from the
 * JIT config's {@code .credentials}:
 * <ul>
 *   <li>{@code GET /_apis/connectionData}: 200 and the runner is online; 401 for an unknown or deleted runner</li>
 *   <li>{@code POST /_apis/kiln/jobs/acquire}: 200 with the oldest queued job whose labels the runner carries
 *       (case-insensitively, in its organisation or repository), now assigned to it; 204 when none; 409 when
 *       this JIT runner already took its one job</li>
 *   <li>{@code POST /_apis/kiln/jobs/{id}/started}: the job is in progress (emits {@code in_progress})</li>
 *   <li>{@code POST /_apis/kiln/jobs/{id}/completed} with {@code {"exitCode": n, "output": "..."}}: the job
 *       completed, success when n is 0 (emits {@code completed}); the JIT runner is removed</li>
 * </ul>
 */
final class FakeRunnerApi {
    private static final Pattern JOB = Pattern.compile("^/_apis/kiln/jobs/(\\d+)/(started|completed)$");
    static final int MAX_OUTPUT = 64 * 1024;

    private final FakeGitHub github;

    FakeRunnerApi(FakeGitHub github) {
        this.github = github;
    }

    FakeApiAnswer route(String method, String path, String credential, byte[] body) {
        synchronized (github.lock) {
            FakeState.Runner runner = credential == null ? null : github.state.runners.values().stream()
                    .filter(r -> r.token.equals(credential)).findFirst().orElse(null);
            if (runner == null || runner.deleted) {
                return FakeApiAnswer.error(401, runner == null ? "Bad credentials" : "The runner no longer exists on the server");
            }
            if (method.equals("GET") && path.equals("/_apis/connectionData")) {
                runner.online = true;
                ObjectNode answer = FakeGitHub.JSON.createObjectNode();
                answer.put("instanceId", "fake-" + github.appId);
                answer.put("runnerId", runner.id);
                answer.put("runnerName", runner.name);
                return new FakeApiAnswer(200, answer);
            }
            if (method.equals("POST") && path.equals("/_apis/kiln/jobs/acquire")) {
                if (!runner.online) {
                    return FakeApiAnswer.error(409, "The runner has not connected (GET /_apis/connectionData first)");
                }
                if (runner.jobId != null) {
                    return FakeApiAnswer.error(409, "Runner " + runner.name + " is a just-in-time runner and took job " + runner.jobId + " already");
                }
                FakeState.Job job = github.state.jobs.values().stream()
                        .filter(j -> j.status.equals("queued") && j.runner == null && runner.matches(j))
                        .min(Comparator.comparingLong(j -> j.id)).orElse(null);
                if (job == null) {
                    return new FakeApiAnswer(204, null);
                }
                job.runner = runner;
                runner.jobId = job.id;
                ObjectNode answer = FakeGitHub.JSON.createObjectNode();
                answer.put("jobId", job.id);
                answer.put("runId", job.run.id);
                answer.put("name", job.name);
                answer.put("repository", job.run.repo.fullName());
                ArrayNode labels = answer.putArray("labels");
                job.labels.forEach(labels::add);
                answer.put("script", job.script);
                return new FakeApiAnswer(200, answer);
            }
            Matcher m = JOB.matcher(path);
            if (method.equals("POST") && m.matches()) {
                FakeState.Job job = github.state.jobs.get(Long.parseLong(m.group(1)));
                if (job == null || job.runner != runner) {
                    return FakeApiAnswer.error(404, "Job " + m.group(1) + " is not assigned to runner " + runner.name);
                }
                if (m.group(2).equals("started")) {
                    if (!job.status.equals("queued")) {
                        return FakeApiAnswer.error(409, "Job " + job.id + " is " + job.status + ", not queued");
                    }
                    job.status = "in_progress";
                    job.startedAt = github.clock.instant();
                    github.emitJob(job, "in_progress");
                    return new FakeApiAnswer(200, FakeGitHub.JSON.createObjectNode().put("status", job.status));
                }
                if (!job.status.equals("in_progress")) {
                    return FakeApiAnswer.error(409, "Job " + job.id + " is " + job.status + ", not in_progress");
                }
                JsonNode report;
                try {
                    report = FakeGitHub.JSON.readTree(body);
                } catch (IOException e) {
                    return FakeApiAnswer.error(400, "Problems parsing JSON");
                }
                if (report == null || !report.path("exitCode").isIntegralNumber()) {
                    return FakeApiAnswer.error(422, "exitCode (an integer) is required");
                }
                String output = report.path("output").asText("");
                job.exitCode = report.get("exitCode").asInt();
                job.output = output.length() > MAX_OUTPUT ? output.substring(output.length() - MAX_OUTPUT) : output;
                job.status = "completed";
                job.conclusion = job.exitCode == 0 ? "success" : "failure";
                job.completedAt = github.clock.instant();
                runner.deleted = true; // a JIT runner is unregistered after its one job
                github.emitJob(job, "completed");
                return new FakeApiAnswer(200, FakeGitHub.JSON.createObjectNode().put("conclusion", job.conclusion));
            }
            return FakeApiAnswer.error(404, "Not Found");
        }
    }
}
