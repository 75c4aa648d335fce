package dev.kiln.testkit.gitlab;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;

/** The JSON shapes GitLab documents for a job: in the Jobs API, in a Job Hook and as a runner receives it. */
final class GitLabPayloads {
    private static final String SHA = "9f2c3a71d0b4c2e8a1f6b3d5c7e9a0b1c2d3e4f5";

    private GitLabPayloads() {}

    /** A job as {@code GET /projects/:id/jobs} and {@code GET /projects/:id/jobs/:job_id} answer it. */
    static ObjectNode apiJob(FakeGitLab gitlab, GitLabState.Job job) {
        ObjectNode node = FakeGitLab.JSON.createObjectNode();
        node.put("id", job.id);
        node.put("status", job.status);
        node.put("stage", job.stage);
        node.put("name", job.name);
        node.put("ref", "main");
        node.put("tag", false);
        node.putNull("coverage");
        node.put("allow_failure", false);
        node.put("created_at", time(job.createdAt));
        putTime(node, "started_at", job.startedAt);
        putTime(node, "finished_at", job.finishedAt);
        putDuration(node, "duration", job.startedAt, job.finishedAt);
        node.put("queued_duration", 0.5);
        if (job.failureReason != null) {
            node.put("failure_reason", job.failureReason);
        }
        ObjectNode user = node.putObject("user");
        user.put("id", 1);
        user.put("username", "octo");
        user.put("name", "Octo Developer");
        ObjectNode commit = node.putObject("commit");
        commit.put("id", SHA);
        commit.put("short_id", SHA.substring(0, 8));
        commit.put("title", "Build with Kiln");
        ObjectNode pipeline = node.putObject("pipeline");
        pipeline.put("id", job.pipelineId);
        pipeline.put("project_id", job.project.id());
        pipeline.put("ref", "main");
        pipeline.put("sha", SHA);
        pipeline.put("status", job.status.equals("created") ? "created" : job.finished() ? job.status : "running");
        node.put("web_url", gitlab.url() + "/" + job.project.path() + "/-/jobs/" + job.id);
        ObjectNode project = node.putObject("project");
        project.put("ci_job_token_scope_enabled", false);
        if (job.runner == null) {
            node.putNull("runner");
        } else {
            node.set("runner", runner(job.runner));
        }
        ArrayNode tags = node.putArray("tag_list");
        job.tags.forEach(tags::add);
        node.putArray("artifacts");
        return node;
    }

    /** The Job Hook body ({@code object_kind: build}): no tag list, as documented. */
    static ObjectNode jobHook(FakeGitLab gitlab, GitLabState.Job job) {
        ObjectNode node = FakeGitLab.JSON.createObjectNode();
        node.put("object_kind", "build");
        node.put("ref", "main");
        node.put("tag", false);
        node.put("before_sha", "0000000000000000000000000000000000000000");
        node.put("sha", SHA);
        node.put("retries_count", 0);
        node.put("build_id", job.id);
        node.put("build_name", job.name);
        node.put("build_stage", job.stage);
        node.put("build_status", job.status);
        node.put("build_created_at", hookTime(job.createdAt));
        putHookTime(node, "build_started_at", job.startedAt);
        putHookTime(node, "build_finished_at", job.finishedAt);
        putDuration(node, "build_duration", job.startedAt, job.finishedAt);
        node.put("build_queued_duration", 0.5);
        node.put("build_allow_failure", false);
        node.put("build_failure_reason", job.failureReason == null ? "unknown_failure" : job.failureReason);
        node.put("pipeline_id", job.pipelineId);
        node.put("project_id", job.project.id());
        String owner = job.project.path().substring(0, job.project.path().lastIndexOf('/'));
        node.put("project_name", owner.replace("/", " / ") + " / " + job.project.name());
        ObjectNode user = node.putObject("user");
        user.put("id", 1);
        user.put("name", "Octo Developer");
        user.put("username", "octo");
        user.put("avatar_url", "https://www.gravatar.com/avatar/0?s=80&d=identicon");
        user.put("email", "[REDACTED]");
        ObjectNode commit = node.putObject("commit");
        commit.put("id", job.pipelineId); // GitLab puts the pipeline's id here (ci-protocols.md §6.4)
        commit.put("name", (String) null);
        commit.put("sha", SHA);
        commit.put("message", "Build with Kiln\n");
        commit.put("author_name", "Octo Developer");
        commit.put("author_email", "octo@example.com");
        commit.put("author_url", "mailto:octo@example.com");
        commit.put("status", job.status);
        commit.putNull("duration");
        commit.putNull("started_at");
        commit.putNull("finished_at");
        ObjectNode repository = node.putObject("repository");
        repository.put("name", job.project.name());
        repository.put("url", "git@gitlab.example.com:" + job.project.path() + ".git");
        repository.put("description", "");
        repository.put("homepage", gitlab.url() + "/" + job.project.path());
        repository.put("git_http_url", gitlab.url() + "/" + job.project.path() + ".git");
        repository.put("git_ssh_url", "git@gitlab.example.com:" + job.project.path() + ".git");
        repository.put("visibility_level", 0);
        ObjectNode project = node.putObject("project");
        project.put("id", job.project.id());
        project.put("name", job.project.name());
        project.put("web_url", gitlab.url() + "/" + job.project.path());
        project.put("namespace", owner);
        project.put("path_with_namespace", job.project.path());
        project.put("default_branch", "main");
        project.put("ci_config_path", (String) null);
        if (job.runner == null) {
            node.putNull("runner");
        } else {
            ObjectNode runner = runner(job.runner);
            ArrayNode tags = runner.putArray("tags");
            job.runner.tags.stream().sorted().forEach(tags::add);
            node.set("runner", runner);
        }
        node.putNull("environment");
        node.putNull("source_pipeline");
        return node;
    }

    /** What {@code POST /jobs/request} answers a runner with: the job, its token and the script as steps. */
    static ObjectNode runnerJob(FakeGitLab gitlab, GitLabState.Job job) {
        ObjectNode node = FakeGitLab.JSON.createObjectNode();
        node.put("id", job.id);
        node.put("token", job.token);
        node.put("allow_git_fetch", true);
        ObjectNode info = node.putObject("job_info");
        info.put("id", job.id);
        info.put("name", job.name);
        info.put("stage", job.stage);
        info.put("project_id", job.project.id());
        info.put("project_name", job.project.name());
        ObjectNode git = node.putObject("git_info");
        git.put("repo_url", gitlab.url() + "/" + job.project.path() + ".git");
        git.put("ref", "main");
        git.put("sha", SHA);
        git.put("before_sha", "0000000000000000000000000000000000000000");
        git.put("ref_type", "branch");
        git.put("depth", 20);
        node.putObject("runner_info").put("timeout", 3600);
        ArrayNode variables = node.putArray("variables");
        variable(variables, "CI_JOB_ID", Long.toString(job.id), true);
        variable(variables, "CI_JOB_NAME", job.name, true);
        variable(variables, "CI_PROJECT_PATH", job.project.path(), true);
        variable(variables, "CI_PIPELINE_ID", Long.toString(job.pipelineId), true);
        variable(variables, "CI_JOB_TOKEN", job.token, false);
        variable(variables, "CI_SERVER_URL", gitlab.url().toString(), true);
        ArrayNode steps = node.putArray("steps");
        ObjectNode step = steps.addObject();
        step.put("name", "script");
        ArrayNode script = step.putArray("script");
        job.script.lines().forEach(script::add);
        step.put("timeout", 3600);
        step.put("when", "on_success");
        step.put("allow_failure", false);
        node.putNull("image");
        node.putArray("services");
        node.putArray("artifacts");
        node.putArray("cache");
        node.putArray("credentials");
        node.putArray("dependencies");
        node.putObject("features").put("trace_sections", true);
        return node;
    }

    static ObjectNode runner(GitLabState.Runner runner) {
        ObjectNode node = FakeGitLab.JSON.createObjectNode();
        node.put("id", runner.id);
        node.put("description", runner.description);
        node.put("runner_type", runner.type);
        node.put("active", !runner.paused);
        node.put("is_shared", runner.type.equals("instance_type"));
        return node;
    }

    private static void variable(ArrayNode variables, String key, String value, boolean isPublic) {
        ObjectNode v = variables.addObject();
        v.put("key", key);
        v.put("value", value);
        v.put("public", isPublic);
        v.put("masked", !isPublic);
    }

    static String time(Instant instant) {
        return DateTimeFormatter.ISO_INSTANT.format(instant.truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
    }

    /** Job Hooks write times as ISO instants with milliseconds (older GitLab wrote {@code 2016-12-13 14:35:04 UTC}). */
    private static String hookTime(Instant instant) {
        return time(instant);
    }

    private static void putTime(ObjectNode node, String field, Instant instant) {
        if (instant == null) {
            node.putNull(field);
        } else {
            node.put(field, time(instant));
        }
    }

    private static void putHookTime(ObjectNode node, String field, Instant instant) {
        if (instant == null) {
            node.putNull(field);
        } else {
            node.put(field, hookTime(instant));
        }
    }

    private static void putDuration(ObjectNode node, String field, Instant start, Instant end) {
        if (start == null || end == null) {
            node.putNull(field);
        } else {
            node.put(field, Duration.between(start, end).toMillis() / 1000.0);
        }
    }

}
