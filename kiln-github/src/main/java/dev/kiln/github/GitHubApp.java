package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.core.Sleeper;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Kiln's GitHub App client: App JWT, installation tokens (cached until 5 minutes before they expire),
 * JIT runners, runner listing and removal, installations and repositories, and the queued jobs a
 * reconciler needs. Rate limits and 5xx are handled by waiting with the injected {@link Sleeper}; a wait
 * beyond {@code maxWait} fails with {@link ErrorCode#RATE_LIMITED}. Thread-safe.
 *
 * <p>On the happy path a job costs one call ({@code generate-jitconfig}) plus a token mint per
 * installation and hour; {@link #apiCalls()} counts every request sent.
 */
public final class GitHubApp {
    public static final Duration DEFAULT_MAX_WAIT = Duration.ofMinutes(2);
    static final Duration TOKEN_REFRESH_BEFORE_EXPIRY = Duration.ofMinutes(5);
    static final int PER_PAGE = 100;
    /** Bounds a listing at 100 pages (10,000 items) so that a bad {@code Link} header cannot loop forever. */
    static final int MAX_PAGES = 100;
    static final String RUNNER_NAME_PREFIX = "kiln-";
    private static final String APP = "app";

    private final GitHubConfig config;
    private final InstantSource clock;
    private final Rest rest;
    private final AppJwt jwt;
    private final Map<Long, InstallationToken> tokens = new HashMap<>();
    private final Object tokenLock = new Object();

    /** A token for one installation; never printed. */
    record InstallationToken(String token, Instant expiresAt) {
        @Override
        public String toString() {
            return "InstallationToken[expiresAt=" + expiresAt + "]";
        }
    }

    public GitHubApp(GitHubConfig config, HttpClient http, InstantSource clock, Sleeper sleeper) {
        this(config, http, clock, sleeper, DEFAULT_MAX_WAIT);
    }

    public GitHubApp(GitHubConfig config, HttpClient http, InstantSource clock, Sleeper sleeper, Duration maxWait) {
        this.config = requireNonNull(config, "config is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.rest = new Rest(config.apiUrl(), http, clock, sleeper, maxWait, Duration.ofSeconds(30));
        this.jwt = new AppJwt(config.appId(), config.privateKey(), clock);
    }

    /** The runner name for a Kiln VM: {@code kiln-<vm id>}; the {@code in_progress} webhook carries it back. */
    public static String runnerName(String vmId) {
        return Names.checkRunner(RUNNER_NAME_PREFIX + vmId);
    }

    public GitHubConfig config() {
        return config;
    }

    // ---- the App (JWT) ----

    /** {@code GET /app}: the App the key belongs to. */
    public AppInfo app() {
        JsonNode body = appCall("GET", "/app", "GET /app", null).body();
        return new AppInfo(body.path("id").asLong(), body.path("slug").asText(), body.path("name").asText(),
                body.path("owner").path("login").asText(), strings(body.path("permissions")), list(body.path("events")));
    }

    /** {@code GET /app/installations}, every page. */
    public List<Installation> installations() {
        List<Installation> all = new ArrayList<>();
        Rest.Response page = appCall("GET", "/app/installations?per_page=" + PER_PAGE, "GET /app/installations", null);
        for (int pages = 1; ; pages++) {
            page.body().forEach(node -> all.add(installation(node)));
            if (page.next().isEmpty() || pages >= MAX_PAGES) {
                return all;
            }
            page = checked(rest.send("GET", page.next().get(), "GET /app/installations", APP, jwt.get(), null), "GET /app/installations");
        }
    }

    /** {@code GET /app/installations/{id}}. */
    public Installation installation(long installationId) {
        return installation(appCall("GET", "/app/installations/" + installationId, "GET /app/installations/{id}", null).body());
    }

    // ---- an installation (installation token) ----

    /** {@code GET /installation/repositories}, every page. */
    public List<Repository> repositories(long installationId) {
        return pages(installationId, "/installation/repositories", "GET /installation/repositories", "repositories",
                node -> new Repository(node.path("id").asLong(), node.path("owner").path("login").asText(),
                        node.path("name").asText(), node.path("private").asBoolean()));
    }

    /**
     * Where a runner for a job of {@code owner/repo} registers with this installation: the organisation when
     * the installation may manage organisation runners, else the repository when it may administer it.
     *
     * @throws KilnException {@link ErrorCode#PERMISSION_DENIED} naming the permission to grant
     */
    public RunnerScope scopeFor(Installation installation, String owner, String repo) {
        if (installation.isOrganization() && installation.has(GitHubCheck.ORG_RUNNERS, "write")) {
            return RunnerScope.org(owner);
        }
        if (installation.has(GitHubCheck.ADMINISTRATION, "write")) {
            return RunnerScope.repo(owner, repo);
        }
        throw new KilnException(ErrorCode.PERMISSION_DENIED, "installation " + installation.id() + " on "
                + installation.account() + " can register no runner for " + owner + "/" + repo + ": grant the App "
                + (installation.isOrganization() ? "Organization → Self-hosted runners: write, or " : "")
                + "Repository → Administration: write");
    }

    /**
     * {@code POST …/actions/runners/generate-jitconfig}: registers a one-job runner named
     * {@code runnerName} (see {@link #runnerName}) with the job's labels plus {@code self-hosted}, in the
     * configured runner group.
     *
     * @throws GitHubApiException status 409 when a runner of that name exists, 404/403 for a runner group
     *     that is missing or not allowed, 422 for labels GitHub refuses
     */
    public JitRunner generateJitConfig(long installationId, RunnerScope scope, String runnerName, Collection<String> jobLabels) {
        Names.checkRunner(runnerName);
        List<String> labels = runnerLabels(jobLabels);
        ObjectNode body = Rest.JSON.createObjectNode();
        body.put("name", runnerName);
        body.put("runner_group_id", config.runnerGroupId());
        ArrayNode array = body.putArray("labels");
        labels.forEach(array::add);
        body.put("work_folder", "_work");
        String route = "POST " + scope.template() + "/actions/runners/generate-jitconfig";
        JsonNode answer = installationCall(installationId, "POST", scope.path() + "/actions/runners/generate-jitconfig", route, body.toString()).body();
        String encoded = answer.path("encoded_jit_config").asText("");
        if (encoded.isEmpty()) {
            throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, 201, "", route + " for " + runnerName + " in " + scope
                    + " answered without an encoded_jit_config");
        }
        return new JitRunner(runner(answer.path("runner")), scope, encoded);
    }

    /** The labels a JIT runner gets: {@code self-hosted} first, then the job's, each once (case-insensitively). */
    static List<String> runnerLabels(Collection<String> jobLabels) {
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("self-hosted", "self-hosted");
        for (String label : jobLabels) {
            requireNonNull(label, "jobLabels contains null");
            if (label.isBlank() || label.length() > 100) {
                throw new KilnException(ErrorCode.INVALID_LABEL, "runner label '" + (label.length() > 100 ? label.substring(0, 100) + "…" : label)
                        + "' must be 1 to 100 characters");
            }
            labels.putIfAbsent(label.toLowerCase(Locale.ROOT), label);
        }
        if (labels.size() > 100) {
            throw new KilnException(ErrorCode.INVALID_LABEL, "a runner takes at most 100 labels; the job has " + (labels.size() - 1) + " besides self-hosted");
        }
        return List.copyOf(labels.values());
    }

    /** {@code GET …/actions/runners}, every page; with a name, GitHub filters by that exact name. */
    public List<Runner> runners(long installationId, RunnerScope scope, Optional<String> name) {
        String query = name.map(n -> "&name=" + URLEncoder.encode(Names.checkRunner(n), StandardCharsets.UTF_8)).orElse("");
        return pages(installationId, scope.path() + "/actions/runners?per_page=" + PER_PAGE + query,
                "GET " + scope.template() + "/actions/runners", "runners", GitHubApp::runner);
    }

    /** {@code DELETE …/actions/runners/{id}}: 204 deleted, 404 already gone, 422 busy. */
    public DeleteOutcome deleteRunner(long installationId, RunnerScope scope, long runnerId) {
        String route = "DELETE " + scope.template() + "/actions/runners/{id}";
        Rest.Response response = installationSend(installationId, "DELETE", scope.path() + "/actions/runners/" + runnerId, route, null);
        return switch (response.status()) {
            case 204, 200 -> DeleteOutcome.DELETED;
            case 404 -> DeleteOutcome.ALREADY_GONE;
            case 422 -> DeleteOutcome.BUSY;
            default -> throw error(response, route + " for runner " + runnerId + " in " + scope);
        };
    }

    /** {@code GET /repos/{owner}/{repo}/actions/runs?status=…}, every page (GitHub caps a filtered listing at 1,000). */
    public List<WorkflowRun> workflowRuns(long installationId, String owner, String repo, String status) {
        String path = "/repos/" + Names.checkOwner(owner) + "/" + Names.checkRepo(repo) + "/actions/runs?status="
                + URLEncoder.encode(status, StandardCharsets.UTF_8) + "&per_page=" + PER_PAGE;
        return pages(installationId, path, "GET /repos/{owner}/{repo}/actions/runs", "workflow_runs",
                node -> new WorkflowRun(node.path("id").asLong(), owner, repo, node.path("status").asText(),
                        text(node, "conclusion"), node.path("run_attempt").asInt(1), instant(node, "created_at")));
    }

    /** {@code GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=latest}, every page. */
    public List<WorkflowJob> jobs(long installationId, String owner, String repo, long runId) {
        String path = "/repos/" + Names.checkOwner(owner) + "/" + Names.checkRepo(repo) + "/actions/runs/" + runId
                + "/jobs?filter=latest&per_page=" + PER_PAGE;
        return pages(installationId, path, "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs", "jobs",
                node -> workflowJob(node, owner, repo));
    }

    /** {@code GET /repos/{owner}/{repo}/actions/jobs/{job_id}}: one job, for a conclusion whose webhook never came. */
    public WorkflowJob job(long installationId, String owner, String repo, long jobId) {
        String path = "/repos/" + Names.checkOwner(owner) + "/" + Names.checkRepo(repo) + "/actions/jobs/" + jobId;
        return workflowJob(installationCall(installationId, "GET", path, "GET /repos/{owner}/{repo}/actions/jobs/{job_id}", null)
                .body(), owner, repo);
    }

    /**
     * {@code GET /users/{username}/keys}: the public SSH keys GitHub holds for a user ({@code [{"id": .., "key":
     * "ssh-ed25519 AAAA.."}]}), each as an authorized_keys line, every page; none for a user GitHub does not know (404).
     * Asked with the installation's token (the endpoint is public; the token's rate limit is the higher one).
     */
    public List<String> userKeys(long installationId, String username) {
        String route = "GET /users/{username}/keys";
        List<String> keys = new ArrayList<>();
        String next = "/users/" + Names.checkOwner(username) + "/keys?per_page=" + PER_PAGE;
        for (int pages = 0; next != null && pages < MAX_PAGES; pages++) {
            Rest.Response page = installationSend(installationId, "GET", next, route, null);
            if (page.status() == 404) {
                return List.of();
            }
            checked(page, route);
            if (!page.body().isArray()) {
                throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, page.status(), "", route + " answered without a JSON array");
            }
            for (JsonNode entry : page.body()) {
                String key = text(entry, "key");
                // One line of a known shape, or left out: it goes into an authorized_keys file.
                if (key != null && key.matches("(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( [^\\r\\n]*)?")) {
                    keys.add(key);
                }
            }
            next = page.next().map(URI::toString).orElse(null);
        }
        return keys;
    }

    private static WorkflowJob workflowJob(JsonNode node, String owner, String repo) {
        return new WorkflowJob(node.path("id").asLong(), node.path("run_id").asLong(), owner, repo,
                node.path("name").asText(), node.path("status").asText(), text(node, "conclusion"),
                list(node.path("labels")), node.path("runner_id").isIntegralNumber() ? node.get("runner_id").asLong() : null,
                text(node, "runner_name"), instant(node, "created_at"));
    }

    /**
     * The queued jobs of a repository, for the reconciler: runs that are {@code queued} or
     * {@code in_progress} (a running run can hold queued jobs), then their jobs that are {@code queued}.
     */
    public List<WorkflowJob> queuedJobs(long installationId, String owner, String repo) {
        List<WorkflowJob> queued = new ArrayList<>();
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (String status : List.of("queued", "in_progress")) {
            for (WorkflowRun run : workflowRuns(installationId, owner, repo, status)) {
                if (!seen.add(run.id())) {
                    continue;
                }
                jobs(installationId, owner, repo, run.id()).stream().filter(j -> j.status().equals("queued")).forEach(queued::add);
            }
        }
        return queued;
    }

    /** Requests sent so far, by route. */
    public Map<String, Long> apiCalls() {
        return rest.calls();
    }

    /** Requests sent so far, by route and the status GitHub answered ({@link ApiCall#NO_ANSWER}: none). */
    public Map<ApiCall, Long> apiCallsByStatus() {
        return rest.answered();
    }

    /**
     * The rate limit GitHub last reported for each credential used: {@code app} (the App's JWT) and
     * {@code installation-ID} (an installation's token).
     */
    public Map<String, RateLimit> rateLimits() {
        Map<String, RateLimit> byCredential = new java.util.TreeMap<>();
        rest.limits().forEach((bucket, limit) -> byCredential.put(bucket.replace(' ', '-'), limit));
        return byCredential;
    }

    public long totalApiCalls() {
        return rest.calls().values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * GitHub failing, if it is: how many calls in a row gave up, until when Kiln sends nothing, and how many
     * calls it held back.
     */
    public Optional<Unavailable> unavailable() {
        return rest.backoff();
    }

    /**
     * GitHub failing: {@code failures} calls in a row gave up, the last on {@code lastProblem}; nothing is sent
     * before {@code until}; {@code heldBack} calls were refused without sending.
     */
    public record Unavailable(int failures, Instant until, String lastProblem, long heldBack) {}

    /** The rate limit GitHub last reported for the App's JWT or an installation's token. */
    public Optional<RateLimit> rateLimit(Optional<Long> installationId) {
        return rest.limit(installationId.map(GitHubApp::bucket).orElse(APP));
    }

    // ---- plumbing ----

    private Rest.Response appCall(String method, String path, String route, String body) {
        Rest.Response response = rest.send(method, rest.resolve(path), route, APP, jwt.get(), body);
        // GitHub's clock-skew refusals name the 'exp' or 'iat' claim; only those are retried on GitHub's time.
        if (response.status() == 401 && (response.rawMessage().contains("('exp')") || response.rawMessage().contains("('iat')"))) {
            Optional<Instant> serverNow = Rest.date(response);
            if (serverNow.isPresent() && jwt.correctSkew(serverNow.get())) {
                response = rest.send(method, rest.resolve(path), route, APP, jwt.get(), body);
            }
        }
        return checked(response, route);
    }

    InstallationToken token(long installationId) {
        synchronized (tokenLock) {
            InstallationToken token = tokens.get(installationId);
            if (token != null && clock.instant().isBefore(token.expiresAt().minus(TOKEN_REFRESH_BEFORE_EXPIRY))) {
                return token;
            }
            String route = "POST /app/installations/{id}/access_tokens";
            JsonNode body = appCall("POST", "/app/installations/" + installationId + "/access_tokens", route, null).body();
            String value = body.path("token").asText("");
            Instant expiresAt = instant(body, "expires_at");
            if (value.isEmpty() || expiresAt == null) {
                throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, 201, "", route + " for installation " + installationId
                        + " answered without a token or expires_at");
            }
            token = new InstallationToken(value, expiresAt);
            tokens.put(installationId, token);
            return token;
        }
    }

    private void forgetToken(long installationId, InstallationToken token) {
        synchronized (tokenLock) {
            tokens.remove(installationId, token);
        }
    }

    /** Sends with the installation's token; a 401 (token revoked or expired early) is retried once with a fresh token. */
    private Rest.Response installationSend(long installationId, String method, String pathOrUrl, String route, String body) {
        URI uri = pathOrUrl.startsWith("/") ? rest.resolve(pathOrUrl) : URI.create(pathOrUrl);
        InstallationToken token = token(installationId);
        Rest.Response response = rest.send(method, uri, route, bucket(installationId), token.token(), body);
        if (response.status() == 401) {
            forgetToken(installationId, token);
            response = rest.send(method, uri, route, bucket(installationId), token(installationId).token(), body);
        }
        return response;
    }

    private Rest.Response installationCall(long installationId, String method, String path, String route, String body) {
        return checked(installationSend(installationId, method, path, route, body), route);
    }

    private <T> List<T> pages(long installationId, String path, String route, String field, Function<JsonNode, T> map) {
        List<T> all = new ArrayList<>();
        String next = path;
        for (int pages = 0; next != null && pages < MAX_PAGES; pages++) {
            Rest.Response page = installationCall(installationId, "GET", next, route, null);
            JsonNode items = page.body().path(field);
            if (!items.isArray()) {
                throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, page.status(), "", route + " answered without a '" + field + "' array");
            }
            items.forEach(node -> all.add(map.apply(node)));
            next = page.next().map(URI::toString).orElse(null);
        }
        return all;
    }

    private static Rest.Response checked(Rest.Response response, String route) {
        if (!response.ok()) {
            throw error(response, route);
        }
        if (response.body() == null && response.status() != 204) {
            throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, response.status(), "", route + " answered HTTP "
                    + response.status() + " without a JSON body");
        }
        return response;
    }

    private static GitHubApiException error(Rest.Response response, String what) {
        String message = response.rawMessage();
        String hint = switch (response.status()) {
            case 401 -> "; check the App id and its private key (and that this host's clock is right)";
            case 403 -> "; the App lacks a permission (`kiln github check` lists what is missing)";
            default -> "";
        };
        return new GitHubApiException(GitHubApiException.codeFor(response.status()), response.status(), message,
                what + " failed: GitHub answered HTTP " + response.status() + (message.isEmpty() ? "" : " \"" + message + "\"") + hint);
    }

    private static Installation installation(JsonNode node) {
        return new Installation(node.path("id").asLong(), node.path("account").path("login").asText(),
                node.path("target_type").asText(node.path("account").path("type").asText()),
                node.path("repository_selection").asText(), strings(node.path("permissions")), list(node.path("events")),
                node.hasNonNull("suspended_at"));
    }

    static Runner runner(JsonNode node) {
        List<String> labels = new ArrayList<>();
        node.path("labels").forEach(l -> labels.add(l.isTextual() ? l.asText() : l.path("name").asText()));
        return new Runner(node.path("id").asLong(), node.path("name").asText(), node.path("os").asText(),
                node.path("status").asText(), node.path("busy").asBoolean(), node.path("ephemeral").asBoolean(),
                node.path("runner_group_id").asLong(), labels);
    }

    private static String bucket(long installationId) {
        return "installation " + installationId;
    }

    static Map<String, String> strings(JsonNode object) {
        Map<String, String> map = new java.util.TreeMap<>();
        object.properties().forEach(e -> map.put(e.getKey(), e.getValue().asText()));
        return map;
    }

    static List<String> list(JsonNode array) {
        List<String> list = new ArrayList<>();
        array.forEach(n -> list.add(n.asText()));
        return list;
    }

    static String text(JsonNode node, String field) {
        JsonNode value = node.get(field);
        return value == null || value.isNull() ? null : value.asText();
    }

    static Instant instant(JsonNode node, String field) {
        String text = text(node, field);
        try {
            return text == null ? null : Instant.parse(text);
        } catch (java.time.format.DateTimeParseException e) {
            return java.time.OffsetDateTime.parse(text).toInstant();
        }
    }
}
