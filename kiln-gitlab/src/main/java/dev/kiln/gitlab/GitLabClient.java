package dev.kiln.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.Sleeper;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The GitLab REST calls Kiln makes (ci-protocols.md §6): a project runner per job ({@code POST /user/runners}
 * with the job's tags and {@code run_untagged=false}), its deletion, the pending jobs of a project with their
 * tags (Job Hooks carry none), one job, and a group's projects. Retries as {@link GitLabRest} says. Thread-safe.
 */
public final class GitLabClient {
    /** The longest Kiln waits in one call for GitLab's {@code Retry-After} or a backoff before it gives up for now. */
    public static final Duration MAX_WAIT = Duration.ofMinutes(2);
    /** At most this many pages of 100 are read in one listing, so that one call stays bounded in time. */
    static final int MAX_PAGES = 20;

    private final GitLabRest rest;

    public GitLabClient(GitLabConfig config, HttpClient http, Sleeper sleeper) {
        this(config, http, sleeper, MAX_WAIT);
    }

    GitLabClient(GitLabConfig config, HttpClient http, Sleeper sleeper, Duration maxWait) {
        requireNonNull(config, "config is null");
        this.rest = new GitLabRest(config.apiUrl(), config.token(), http, sleeper, maxWait, Duration.ofSeconds(30));
    }

    /**
     * Creates a runner for one job in its project: carrying the job's tags, not taking untagged jobs, locked
     * to the project.
     */
    public CreatedRunner createProjectRunner(long projectId, Collection<String> tags, String description) {
        if (tags.isEmpty()) {
            throw new IllegalArgumentException("a runner for project " + projectId + " needs the job's tags; Kiln serves tagged jobs only");
        }
        ObjectNode body = GitLabRest.JSON.createObjectNode();
        body.put("runner_type", "project_type");
        body.put("project_id", projectId);
        body.put("description", description);
        ArrayNode list = body.putArray("tag_list");
        tags.forEach(list::add);
        body.put("run_untagged", false);
        body.put("locked", true);
        GitLabRest.Response answer = rest.send("POST", "/user/runners", "POST /user/runners", body);
        if (answer.status() != 201) {
            throw refused("creating a runner with tags " + tags + " in project " + projectId, answer);
        }
        JsonNode id = answer.body() == null ? null : answer.body().get("id");
        JsonNode token = answer.body() == null ? null : answer.body().get("token");
        if (id == null || !id.canConvertToLong() || token == null || !token.isTextual() || token.asText().isEmpty()) {
            throw new GitLabApiException(ErrorCode.UPSTREAM_FAILED, answer.status(),
                    "GitLab created a runner in project " + projectId + " but its answer lacks the id or the token");
        }
        return new CreatedRunner(id.asLong(), token.asText());
    }

    /** Deletes a runner: true when GitLab deleted it, false when it was gone already (404). */
    public boolean deleteRunner(long runnerId) {
        GitLabRest.Response answer = rest.send("DELETE", "/runners/" + runnerId, "DELETE /runners/:id", null);
        if (answer.status() == 204 || answer.status() == 200) {
            return true;
        }
        if (answer.status() == 404) {
            return false;
        }
        throw refused("deleting runner " + runnerId, answer);
    }

    /** The project's pending jobs, newest first, with their tags; at most {@link #MAX_PAGES} pages of 100. */
    public List<GitLabJob> pendingJobs(String project) {
        List<GitLabJob> jobs = new ArrayList<>();
        for (JsonNode node : pages("/projects/" + encode(project) + "/jobs?scope%5B%5D=pending", "GET /projects/:id/jobs",
                "listing the pending jobs of project " + project)) {
            jobs.add(job(node, "a pending job of project " + project));
        }
        return jobs;
    }

    /** One job, with its tags and status. */
    public GitLabJob job(long projectId, long jobId) {
        GitLabRest.Response answer = rest.send("GET", "/projects/" + projectId + "/jobs/" + jobId, "GET /projects/:id/jobs/:job_id", null);
        if (answer.status() != 200 || answer.body() == null || !answer.body().isObject()) {
            throw refused("reading job " + jobId + " of project " + projectId, answer);
        }
        return job(answer.body(), "job " + jobId + " of project " + projectId);
    }

    /** The paths of a group's projects, its subgroups' included. */
    public List<String> projectsOf(String group) {
        List<String> paths = new ArrayList<>();
        for (JsonNode node : pages("/groups/" + encode(group) + "/projects?include_subgroups=true&simple=true", "GET /groups/:id/projects",
                "listing the projects of group " + group)) {
            if (node.path("path_with_namespace").isTextual()) {
                paths.add(node.get("path_with_namespace").asText());
            }
        }
        return paths;
    }

    /** Requests sent so far, by route and the status GitLab answered ({@link ApiCall#NO_ANSWER}: none). */
    public Map<ApiCall, Long> callsByStatus() {
        return rest.answered();
    }

    /** The rate limit GitLab last told in {@code RateLimit-*} headers, if it sent any. */
    public java.util.Optional<RateLimit> rateLimit() {
        return rest.rateLimit();
    }

    /** Requests sent to GitLab, by route, retries included. */
    public Map<String, Long> calls() {
        return rest.calls();
    }

    private List<JsonNode> pages(String path, String route, String what) {
        List<JsonNode> items = new ArrayList<>();
        String separator = path.contains("?") ? "&" : "?";
        for (int page = 1; page <= MAX_PAGES; page++) {
            GitLabRest.Response answer = rest.send("GET", path + separator + "per_page=100&page=" + page, route, null);
            if (answer.status() != 200 || answer.body() == null || !answer.body().isArray()) {
                throw refused(what, answer);
            }
            answer.body().forEach(items::add);
            String next = answer.headers().firstValue("X-Next-Page").orElse("");
            if (next.isBlank() || answer.body().isEmpty()) {
                break;
            }
        }
        return items;
    }

    private static GitLabJob job(JsonNode node, String what) {
        if (!node.path("id").canConvertToLong() || !node.path("status").isTextual()) {
            throw new GitLabApiException(ErrorCode.UPSTREAM_FAILED, 200, "GitLab described " + what + " without an id or a status");
        }
        long projectId = node.path("pipeline").path("project_id").asLong(node.path("project_id").asLong(0));
        List<String> tags = new ArrayList<>();
        node.path("tag_list").forEach(t -> {
            if (t.isTextual()) {
                tags.add(t.asText());
            }
        });
        JsonNode runner = node.path("runner").path("id");
        JsonNode pipeline = node.path("pipeline").path("id");
        return new GitLabJob(node.get("id").asLong(), projectId, node.path("name").asText(""), node.get("status").asText(), tags,
                runner.canConvertToLong() ? runner.asLong() : null, pipeline.canConvertToLong() ? pipeline.asLong() : null);
    }

    private static GitLabApiException refused(String what, GitLabRest.Response answer) {
        String hint = switch (answer.status()) {
            case 401 -> ": the access token is wrong, expired or revoked";
            case 403 -> ": the token's user lacks the role (Maintainer of the project, Owner of the group) or the token the scope";
            case 404 -> ": GitLab does not show it to the token's user";
            default -> "";
        };
        return new GitLabApiException(GitLabApiException.codeFor(answer.status()), answer.status(),
                what + " failed: GitLab answered HTTP " + answer.status() + (answer.message().isEmpty() ? "" : " (" + answer.message() + ")") + hint);
    }

    private static String encode(String path) {
        return URLEncoder.encode(path, UTF_8);
    }
}
