package dev.kiln.testkit.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.net.URLDecoder;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The fake's HTTP routes under {@code /api/v4}: the REST API an access token calls (runners, jobs, group
 * projects) here, the runner-facing routes in {@link GitLabRunnerApi}. Bodies are JSON or form-encoded, as
 * GitLab's Grape API takes both.
 */
final class GitLabApi implements HttpHandler {
    private static final int MAX_BODY = 1 << 20;
    private static final Pattern RUNNER = Pattern.compile("^/api/v4/runners/(\\d+)$");
    private static final Pattern PROJECT_JOBS = Pattern.compile("^/api/v4/projects/([^/]+)/jobs$");
    private static final Pattern PROJECT_JOB = Pattern.compile("^/api/v4/projects/([^/]+)/jobs/(\\d+)$");
    private static final Pattern GROUP_PROJECTS = Pattern.compile("^/api/v4/groups/([^/]+)/projects$");
    private static final Set<String> JOB_SCOPES = Set.of("created", "pending", "running", "failed", "success", "canceled",
            "skipped", "waiting_for_resource", "manual");
    private static final Set<String> RUNNER_TYPES = Set.of("instance_type", "group_type", "project_type");

    /** An answer: status, body bytes (empty for none), headers. */
    record Answer(int status, byte[] body, Map<String, String> headers) {
        static Answer json(int status, JsonNode body) {
            Map<String, String> headers = new LinkedHashMap<>();
            headers.put("Content-Type", "application/json");
            return new Answer(status, body.toString().getBytes(UTF_8), headers);
        }

        static Answer empty(int status) {
            return new Answer(status, new byte[0], new LinkedHashMap<>());
        }

        static Answer message(int status, String message) {
            return json(status, FakeGitLab.JSON.createObjectNode().put("message", message));
        }

        /** Grape's parameter errors: {@code {"error": "…"}}. */
        static Answer error(int status, String error) {
            return json(status, FakeGitLab.JSON.createObjectNode().put("error", error));
        }

        Answer with(String header, String value) {
            headers.put(header, value);
            return this;
        }
    }

    /** A request's parameters: query string, then a JSON object or form fields in the body. */
    record Params(Map<String, List<String>> values, JsonNode json) {
        String first(String name) {
            if (json != null && json.has(name) && !json.get(name).isNull()) {
                JsonNode node = json.get(name);
                return node.isValueNode() ? node.asText() : node.toString();
            }
            List<String> list = values.get(name);
            return list == null || list.isEmpty() ? null : list.get(0);
        }

        /** An array parameter: a JSON array, {@code name[]=a&name[]=b}, or a comma-separated string. */
        List<String> list(String name) {
            List<String> out = new ArrayList<>();
            if (json != null && json.get(name) != null && json.get(name).isArray()) {
                json.get(name).forEach(n -> out.add(n.asText()));
                return out;
            }
            List<String> many = values.get(name + "[]");
            if (many != null) {
                return List.copyOf(many);
            }
            String one = first(name);
            if (one != null) {
                for (String part : one.split(",")) {
                    if (!part.isBlank()) {
                        out.add(part.strip());
                    }
                }
            }
            return out;
        }
    }

    private final FakeGitLab gitlab;
    private final GitLabRunnerApi runnerApi;

    GitLabApi(FakeGitLab gitlab) {
        this.gitlab = gitlab;
        this.runnerApi = new GitLabRunnerApi(gitlab);
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Answer answer;
            try {
                answer = route(exchange);
            } catch (BadRequest e) {
                answer = e.answer;
            }
            answer.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
            if (answer.status() != 429 && restRoute(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath())) {
                gitlab.faults.rateLimitHeaders(gitlab.now()).forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
            }
            exchange.getResponseHeaders().set("Date", DateTimeFormatter.RFC_1123_DATE_TIME.format(gitlab.now().atOffset(ZoneOffset.UTC)));
            exchange.sendResponseHeaders(answer.status(), answer.body().length == 0 ? -1 : answer.body().length);
            if (answer.body().length > 0) {
                exchange.getResponseBody().write(answer.body());
            }
        }
    }

    /** A route an access token calls (not the runner-facing ones), which GitLab's API throttle counts. */
    private static boolean restRoute(String method, String path) {
        return path.startsWith("/api/v4/") && !(path.startsWith("/api/v4/jobs/") || path.equals("/api/v4/runners/verify")
                || (path.equals("/api/v4/runners") && method.equals("DELETE")));
    }

    private Answer route(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getRawPath();
        byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY + 1);
        if (body.length > MAX_BODY) {
            return Answer.message(413, "413 Request Entity Too Large");
        }
        if (!path.startsWith("/api/v4/")) {
            return Answer.error(404, "404 Not Found");
        }
        if (!restRoute(method, path)) {
            return runnerApi.route(method, path, exchange.getRequestHeaders(), params(exchange, body), body);
        }
        String route = method + " " + template(path);
        FakeGitLabFaults.Forced forced = gitlab.faults.account(route);
        if (forced != null) {
            Answer answer = new Answer(forced.status(), forced.body().getBytes(UTF_8), new LinkedHashMap<>(forced.headers()));
            return answer;
        }
        GitLabState.AccessToken token;
        synchronized (gitlab.lock) {
            token = gitlab.state.tokens.get(credential(exchange));
        }
        if (token == null) {
            return Answer.message(401, "401 Unauthorized");
        }
        Params params = params(exchange, body);
        Matcher m;
        if (method.equals("POST") && path.equals("/api/v4/user/runners")) {
            return createRunner(token, params);
        }
        if ((m = RUNNER.matcher(path)).matches() && (method.equals("DELETE") || method.equals("GET"))) {
            return runner(token, Long.parseLong(m.group(1)), method.equals("DELETE"));
        }
        if (method.equals("GET") && (m = PROJECT_JOBS.matcher(path)).matches()) {
            return projectJobs(token, decode(m.group(1)), params);
        }
        if (method.equals("GET") && (m = PROJECT_JOB.matcher(path)).matches()) {
            return projectJob(token, decode(m.group(1)), Long.parseLong(m.group(2)));
        }
        if (method.equals("GET") && (m = GROUP_PROJECTS.matcher(path)).matches()) {
            return groupProjects(token, decode(m.group(1)), params);
        }
        return Answer.error(404, "404 Not Found");
    }

    /** {@code POST /user/runners} (ci-protocols.md §6.1). */
    private Answer createRunner(GitLabState.AccessToken token, Params params) {
        if (!token.allows("create_runner")) {
            return insufficientScope("create_runner");
        }
        String type = params.first("runner_type");
        if (type == null) {
            return Answer.error(400, "runner_type is missing, runner_type does not have a valid value");
        }
        if (!RUNNER_TYPES.contains(type)) {
            return Answer.error(400, "runner_type does not have a valid value");
        }
        Boolean runUntagged = bool(params, "run_untagged", true);
        Boolean paused = bool(params, "paused", false);
        List<String> tags = params.list("tag_list");
        String accessLevel = params.first("access_level");
        if (accessLevel != null && !accessLevel.equals("not_protected") && !accessLevel.equals("ref_protected")) {
            return Answer.error(400, "access_level does not have a valid value");
        }
        String note = params.first("maintenance_note");
        if (note != null && note.length() > 1024) {
            return Answer.json(400, FakeGitLab.JSON.createObjectNode().set("message", FakeGitLab.JSON.createObjectNode()
                    .set("maintenance_note", FakeGitLab.JSON.createArrayNode().add("is too long (maximum is 1024 characters)"))));
        }
        synchronized (gitlab.lock) {
            GitLabState.Namespace scope = null;
            switch (type) {
                case "instance_type" -> {
                    if (!token.user().admin()) {
                        return Answer.message(403, "403 Forbidden - Insufficient permissions");
                    }
                }
                case "group_type", "project_type" -> {
                    boolean group = type.equals("group_type");
                    String idParam = group ? "group_id" : "project_id";
                    String id = params.first(idParam);
                    if (id == null) {
                        return Answer.error(400, idParam + " is missing");
                    }
                    if (!id.matches("\\d+")) {
                        return Answer.error(400, idParam + " is invalid");
                    }
                    scope = gitlab.state.namespace(id, !group);
                    FakeGitLab.Role role = scope == null ? null : gitlab.state.role(token.user(), scope);
                    FakeGitLab.Role needed = group ? FakeGitLab.Role.OWNER : FakeGitLab.Role.MAINTAINER;
                    if (role == null || role.compareTo(needed) < 0) {
                        return Answer.message(403, "403 Forbidden - Insufficient permissions");
                    }
                }
                default -> throw new IllegalStateException(type);
            }
            if (!runUntagged && tags.isEmpty()) {
                return Answer.json(400, FakeGitLab.JSON.createObjectNode().set("message", FakeGitLab.JSON.createObjectNode()
                        .set("tags_list", FakeGitLab.JSON.createArrayNode().add("can not be empty when runner is not allowed to pick untagged jobs"))));
            }
            String value = "glrt-" + HexFormat.of().formatHex(FakeGitLab.randomBytes(12));
            GitLabState.Runner runner = new GitLabState.Runner(gitlab.state.nextId(), type, scope, value,
                    params.first("description") == null ? "" : params.first("description"), new LinkedHashSet<>(tags), runUntagged, paused);
            gitlab.state.runners.put(runner.id, runner);
            ObjectNode answer = FakeGitLab.JSON.createObjectNode();
            answer.put("id", runner.id);
            answer.put("token", value);
            answer.putNull("token_expires_at");
            return Answer.json(201, answer);
        }
    }

    /** {@code GET} and {@code DELETE /runners/:id} (ci-protocols.md §6.3). */
    private Answer runner(GitLabState.AccessToken token, long id, boolean delete) {
        if (delete ? !token.allows("manage_runner") : !(token.allows("manage_runner") || token.allows("read_api"))) {
            return insufficientScope(delete ? "manage_runner" : "read_api");
        }
        synchronized (gitlab.lock) {
            GitLabState.Runner runner = gitlab.state.runners.get(id);
            if (runner == null || runner.deleted) {
                return Answer.message(404, "404 Runner Not Found");
            }
            FakeGitLab.Role needed = runner.type.equals("group_type") ? FakeGitLab.Role.OWNER : FakeGitLab.Role.MAINTAINER;
            FakeGitLab.Role role = runner.scope == null ? (token.user().admin() ? FakeGitLab.Role.OWNER : null)
                    : gitlab.state.role(token.user(), runner.scope);
            if (role == null || role.compareTo(needed) < 0) {
                return Answer.message(403, "403 Forbidden");
            }
            if (delete) {
                runner.deleted = true;
                return Answer.empty(204);
            }
            ObjectNode answer = GitLabPayloads.runner(runner);
            ArrayNode tags = answer.putArray("tag_list");
            runner.tags.stream().sorted().forEach(tags::add);
            answer.put("run_untagged", runner.runUntagged);
            answer.put("paused", runner.paused);
            answer.put("locked", false);
            answer.put("access_level", "not_protected");
            answer.put("status", runner.contactedAt == null ? "never_contacted" : "online");
            return Answer.json(200, answer);
        }
    }

    /** {@code GET /projects/:id/jobs} with {@code scope[]}, {@code per_page} (≤ 100) and {@code page}. */
    private Answer projectJobs(GitLabState.AccessToken token, String project, Params params) {
        if (!token.allows("read_api")) {
            return insufficientScope("read_api");
        }
        List<String> scopes = params.list("scope");
        for (String scope : scopes) {
            if (!JOB_SCOPES.contains(scope)) {
                return Answer.error(400, "scope does not have a valid value");
            }
        }
        int perPage = Math.min(100, Math.max(1, intParam(params, "per_page", 20)));
        int page = Math.max(1, intParam(params, "page", 1));
        synchronized (gitlab.lock) {
            GitLabState.Namespace namespace = visibleProject(token, project);
            if (namespace == null) {
                return Answer.message(404, "404 Project Not Found");
            }
            // Newest first, as GitLab lists them.
            List<GitLabState.Job> jobs = gitlab.state.jobs.values().stream()
                    .filter(j -> j.project.id() == namespace.id() && (scopes.isEmpty() || scopes.contains(j.status)))
                    .sorted((a, b) -> Long.compare(b.id, a.id)).toList();
            ArrayNode answer = FakeGitLab.JSON.createArrayNode();
            int from = (page - 1) * perPage;
            for (int i = from; i < Math.min(jobs.size(), from + perPage); i++) {
                answer.add(GitLabPayloads.apiJob(gitlab, jobs.get(i)));
            }
            return paged(answer, jobs.size(), page, perPage, "/api/v4/projects/" + namespace.id() + "/jobs", params);
        }
    }

    private Answer projectJob(GitLabState.AccessToken token, String project, long jobId) {
        if (!token.allows("read_api")) {
            return insufficientScope("read_api");
        }
        synchronized (gitlab.lock) {
            GitLabState.Namespace namespace = visibleProject(token, project);
            if (namespace == null) {
                return Answer.message(404, "404 Project Not Found");
            }
            GitLabState.Job job = gitlab.state.jobs.get(jobId);
            if (job == null || job.project.id() != namespace.id()) {
                return Answer.message(404, "404 Not found");
            }
            return Answer.json(200, GitLabPayloads.apiJob(gitlab, job));
        }
    }

    /** {@code GET /groups/:id/projects} ({@code include_subgroups=true} for the whole tree). */
    private Answer groupProjects(GitLabState.AccessToken token, String group, Params params) {
        if (!token.allows("read_api")) {
            return insufficientScope("read_api");
        }
        boolean subgroups = Boolean.parseBoolean(params.first("include_subgroups"));
        int perPage = Math.min(100, Math.max(1, intParam(params, "per_page", 20)));
        int page = Math.max(1, intParam(params, "page", 1));
        synchronized (gitlab.lock) {
            GitLabState.Namespace namespace = gitlab.state.namespace(group, false);
            if (namespace == null || gitlab.state.role(token.user(), namespace) == null) {
                return Answer.message(404, "404 Group Not Found");
            }
            List<GitLabState.Namespace> projects = gitlab.state.namespaces.values().stream()
                    .filter(n -> n.project() && namespace.contains(n))
                    .filter(n -> subgroups || n.path().substring(0, n.path().lastIndexOf('/')).equalsIgnoreCase(namespace.path()))
                    .sorted((a, b) -> Long.compare(b.id(), a.id())).toList();
            ArrayNode answer = FakeGitLab.JSON.createArrayNode();
            int from = (page - 1) * perPage;
            for (int i = from; i < Math.min(projects.size(), from + perPage); i++) {
                GitLabState.Namespace p = projects.get(i);
                ObjectNode node = answer.addObject();
                node.put("id", p.id());
                node.put("name", p.name());
                node.put("path", p.name());
                node.put("path_with_namespace", p.path());
                node.put("web_url", gitlab.url() + "/" + p.path());
            }
            return paged(answer, projects.size(), page, perPage, "/api/v4/groups/" + namespace.id() + "/projects", params);
        }
    }

    /** A project the token's user may read (Reporter or more; private projects hide behind 404). */
    private GitLabState.Namespace visibleProject(GitLabState.AccessToken token, String project) {
        GitLabState.Namespace namespace = gitlab.state.namespace(project, true);
        if (namespace == null) {
            return null;
        }
        FakeGitLab.Role role = gitlab.state.role(token.user(), namespace);
        return role != null && role.compareTo(FakeGitLab.Role.REPORTER) >= 0 ? namespace : null;
    }

    /** GitLab's offset pagination headers: X-Total, X-Total-Pages, X-Page, X-Per-Page, X-Next-Page, X-Prev-Page, Link. */
    private Answer paged(ArrayNode items, int total, int page, int perPage, String path, Params params) {
        Answer answer = Answer.json(200, items);
        int pages = Math.max(1, (total + perPage - 1) / perPage);
        answer.with("X-Total", Integer.toString(total)).with("X-Total-Pages", Integer.toString(pages))
                .with("X-Page", Integer.toString(page)).with("X-Per-Page", Integer.toString(perPage))
                .with("X-Next-Page", page < pages ? Integer.toString(page + 1) : "")
                .with("X-Prev-Page", page > 1 ? Integer.toString(page - 1) : "");
        StringBuilder scopes = new StringBuilder();
        params.list("scope").forEach(s -> scopes.append("&scope%5B%5D=").append(s));
        if (params.first("include_subgroups") != null) {
            scopes.append("&include_subgroups=").append(params.first("include_subgroups"));
        }
        List<String> links = new ArrayList<>();
        if (page < pages) {
            links.add("<" + gitlab.url() + path + "?page=" + (page + 1) + "&per_page=" + perPage + scopes + ">; rel=\"next\"");
        }
        links.add("<" + gitlab.url() + path + "?page=1&per_page=" + perPage + scopes + ">; rel=\"first\"");
        links.add("<" + gitlab.url() + path + "?page=" + pages + "&per_page=" + perPage + scopes + ">; rel=\"last\"");
        return answer.with("Link", String.join(", ", links));
    }

    private static Answer insufficientScope(String scope) {
        ObjectNode body = FakeGitLab.JSON.createObjectNode();
        body.put("error", "insufficient_scope");
        body.put("error_description", "The request requires higher privileges than provided by the access token.");
        body.put("scope", scope);
        return Answer.json(403, body).with("WWW-Authenticate", "Bearer realm=\"Protected by OAuth 2\", error=\"insufficient_scope\", "
                + "error_description=\"The request requires higher privileges than provided by the access token.\", scope=\"" + scope + "\"");
    }

    private static Boolean bool(Params params, String name, boolean fallback) {
        String value = params.first(name);
        if (value == null) {
            return fallback;
        }
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "true", "1", "yes", "t" -> true;
            case "false", "0", "no", "f" -> false;
            default -> throw new BadRequest(Answer.error(400, name + " is invalid"));
        };
    }

    private static int intParam(Params params, String name, int fallback) {
        String value = params.first(name);
        try {
            return value == null ? fallback : Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new BadRequest(Answer.error(400, name + " is invalid"));
        }
    }

    /** The access token: {@code PRIVATE-TOKEN}, or {@code Authorization: Bearer}. */
    private static String credential(HttpExchange exchange) {
        String token = exchange.getRequestHeaders().getFirst("PRIVATE-TOKEN");
        if (token != null) {
            return token.strip();
        }
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (header != null && header.toLowerCase(Locale.ROOT).startsWith("bearer ")) {
            return header.substring(7).strip();
        }
        return "";
    }

    static Params params(HttpExchange exchange, byte[] body) {
        Map<String, List<String>> values = new LinkedHashMap<>();
        parseForm(exchange.getRequestURI().getRawQuery(), values);
        JsonNode json = null;
        String type = exchange.getRequestHeaders().getFirst("Content-Type");
        if (body.length > 0) {
            if (type != null && type.toLowerCase(Locale.ROOT).startsWith("application/json")) {
                try {
                    json = FakeGitLab.JSON.readTree(body);
                } catch (IOException e) {
                    throw new BadRequest(Answer.error(400, "The provided content-type 'application/json' is not supported."));
                }
                if (json != null && !json.isObject()) {
                    throw new BadRequest(Answer.error(400, "The provided content-type 'application/json' is not supported."));
                }
            } else {
                parseForm(new String(body, UTF_8), values);
            }
        }
        return new Params(values, json);
    }

    private static void parseForm(String raw, Map<String, List<String>> into) {
        if (raw == null || raw.isEmpty()) {
            return;
        }
        for (String part : raw.split("&")) {
            int eq = part.indexOf('=');
            String name = decode(eq < 0 ? part : part.substring(0, eq));
            into.computeIfAbsent(name, n -> new ArrayList<>()).add(eq < 0 ? "" : decode(part.substring(eq + 1)));
        }
    }

    static String decode(String text) {
        return URLDecoder.decode(text, UTF_8);
    }

    /** The route with ids replaced, for counting: {@code DELETE /runners/:id}. */
    static String template(String path) {
        return path.substring("/api/v4".length())
                .replaceAll("/projects/[^/]+", "/projects/:id")
                .replaceAll("/groups/[^/]+", "/groups/:id")
                .replaceAll("/jobs/\\d+", "/jobs/:job_id")
                .replaceAll("/runners/\\d+", "/runners/:id");
    }

    /** Answers from deep inside a route. */
    static final class BadRequest extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final transient Answer answer;

        BadRequest(Answer answer) {
            super("HTTP " + answer.status());
            this.answer = answer;
        }
    }
}
