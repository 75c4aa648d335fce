package dev.kiln.testkit.github;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.net.URLDecoder;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The fake's HTTP routes: GitHub's REST API (as ci-protocols.md §0 lists it) and the runner side under {@code /_apis/}. */
final class FakeApi implements HttpHandler {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int MAX_BODY = 1 << 20;
    private static final Pattern USER_KEYS = Pattern.compile("^/users/([^/]+)/keys$");
    private static final Pattern SCOPE = Pattern.compile("^/(?:orgs/(?<org>[^/]+)|repos/(?<owner>[^/]+)/(?<repo>[^/]+))/actions/runners(?<rest>/.*)?$");
    private static final Pattern REPO_ACTIONS = Pattern.compile("^/repos/(?<owner>[^/]+)/(?<repo>[^/]+)/actions/(?<rest>runs|runs/\\d+/jobs|jobs/\\d+)$");

    /** An answer: status, JSON body (null for none), extra headers. */
    private record Answer(int status, JsonNode body, Map<String, String> headers) {
        static Answer of(int status, JsonNode body) {
            return new Answer(status, body, new LinkedHashMap<>());
        }
    }

    /** Who called: the App (JWT) or an installation (token). */
    private record Caller(FakeState.Installation installation) {}

    private final FakeGitHub github;

    FakeApi(FakeGitHub github) {
        this.github = github;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Answer answer;
            try {
                answer = route(exchange);
            } catch (BadRequest e) {
                answer = error(e.status, e.getMessage());
            }
            byte[] body = answer.body() == null ? new byte[0] : FakeGitHub.JSON.writeValueAsBytes(answer.body());
            answer.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
            exchange.getResponseHeaders().set("Date", DateTimeFormatter.RFC_1123_DATE_TIME.format(github.clock.instant().atOffset(ZoneOffset.UTC)));
            if (answer.body() != null) {
                exchange.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            }
            exchange.sendResponseHeaders(answer.status(), body.length == 0 ? -1 : body.length);
            if (body.length > 0) {
                exchange.getResponseBody().write(body);
            }
        }
    }

    private Answer route(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getRawPath();
        Map<String, String> query = query(exchange.getRequestURI().getRawQuery());
        byte[] body = exchange.getRequestBody().readNBytes(MAX_BODY + 1);
        if (body.length > MAX_BODY) {
            throw new BadRequest(413, "Payload too large");
        }
        if (path.startsWith("/_apis/")) {
            FakeApiAnswer answer = new FakeRunnerApi(github).route(method, path, credential(exchange), body);
            return Answer.of(answer.status(), answer.body());
        }
        String route = method + " " + template(path);
        github.faults.count(route);
        String credential = credential(exchange);
        Matcher keys = USER_KEYS.matcher(path);
        if (credential == null && method.equals("GET") && keys.matches()) {
            // Public: GitHub answers it without authentication too.
            return userKeys(decode(keys.group(1)), path, query);
        }
        if (credential == null) {
            return error(401, "Requires authentication");
        }
        boolean jwt = FakeJwt.looksLikeJwt(credential);
        String bucket;
        String who;
        Caller caller = null;
        if (jwt) {
            String problem = FakeJwt.check(credential, github.appKey, github.appId, github.clientId, github.clock.instant());
            if (problem != null) {
                return error(401, problem);
            }
            bucket = "app";
            who = "app " + github.appId;
        } else {
            synchronized (github.lock) {
                FakeState.Token token = github.state.tokens.get(credential);
                if (token == null || !github.clock.instant().isBefore(token.expiresAt())) {
                    return error(401, "Bad credentials");
                }
                FakeState.Installation installation = github.state.installations.get(token.installationId());
                if (installation == null || installation.suspended) {
                    return error(401, "Bad credentials");
                }
                caller = new Caller(installation);
            }
            bucket = "installation " + caller.installation().id;
            who = "installation ID " + caller.installation().id;
        }
        Map<String, String> headers = new LinkedHashMap<>();
        FakeFaults.Forced forced = github.faults.account(bucket, who, headers, !path.equals("/rate_limit"));
        if (forced != null) {
            Answer answer = error(forced.status(), forced.message(), forced.documentationUrl());
            answer.headers().putAll(headers);
            answer.headers().putAll(forced.headers());
            return answer;
        }
        Answer answer = jwt ? appRoute(method, path, query) : installationRoute(method, path, query, body, caller.installation());
        answer.headers().putAll(headers);
        return answer;
    }

    // ---- the App's own endpoints (JWT) ----

    private Answer appRoute(String method, String path, Map<String, String> query) {
        synchronized (github.lock) {
            if (method.equals("GET") && path.equals("/app")) {
                ObjectNode app = FakeGitHub.JSON.createObjectNode();
                app.put("id", github.appId);
                app.put("client_id", github.clientId);
                app.put("slug", "kiln-test");
                app.put("name", "Kiln test");
                app.putObject("owner").put("login", "kiln-dev");
                ObjectNode permissions = app.putObject("permissions");
                FakeGitHub.KILN_PERMISSIONS.forEach(permissions::put);
                ArrayNode events = app.putArray("events");
                github.state.appEvents.forEach(events::add);
                return Answer.of(200, app);
            }
            if (method.equals("GET") && path.equals("/app/installations")) {
                List<JsonNode> all = github.state.installations.values().stream()
                        .map(i -> (JsonNode) FakePayloads.installation(github, i)).toList();
                return page(path, query, all, null);
            }
            Matcher m = Pattern.compile("^/app/installations/(\\d+)(/access_tokens)?$").matcher(path);
            if (m.matches()) {
                FakeState.Installation installation = github.state.installations.get(Long.parseLong(m.group(1)));
                if (installation == null) {
                    return error(404, "Not Found");
                }
                if (m.group(2) == null && method.equals("GET")) {
                    return Answer.of(200, FakePayloads.installation(github, installation));
                }
                if (m.group(2) != null && method.equals("POST")) {
                    if (installation.suspended) {
                        return error(403, "This installation has been suspended");
                    }
                    String token = "ghs_" + installation.id + "_" + randomToken(30 + RANDOM.nextInt(60));
                    Instant expires = github.clock.instant().plus(github.tokenLifetime());
                    github.state.tokens.put(token, new FakeState.Token(token, installation.id, expires));
                    ObjectNode answer = FakeGitHub.JSON.createObjectNode();
                    answer.put("token", token);
                    answer.put("expires_at", expires.toString());
                    ObjectNode permissions = answer.putObject("permissions");
                    installation.permissions.forEach(permissions::put);
                    answer.put("repository_selection", "all");
                    return Answer.of(201, answer);
                }
            }
            Matcher owner = Pattern.compile("^/(?:orgs|users)/([^/]+)/installation$|^/repos/([^/]+)/[^/]+/installation$").matcher(path);
            if (method.equals("GET") && owner.matches()) {
                String account = owner.group(1) != null ? owner.group(1) : owner.group(2);
                FakeState.Installation installation = github.state.installationOn(account);
                return installation == null ? error(404, "Not Found") : Answer.of(200, FakePayloads.installation(github, installation));
            }
            if (path.startsWith("/app")) {
                return error(404, "Not Found");
            }
            // An App JWT on an installation endpoint.
            return error(403, "A JSON web token cannot be used to access this endpoint; use an installation access token");
        }
    }

    // ---- installation endpoints (installation token) ----

    private Answer installationRoute(String method, String path, Map<String, String> query, byte[] body, FakeState.Installation caller) {
        if (path.startsWith("/app")) {
            return error(401, FakeJwt.UNDECODABLE);
        }
        synchronized (github.lock) {
            if (method.equals("GET") && path.equals("/rate_limit")) {
                ObjectNode answer = FakeGitHub.JSON.createObjectNode();
                answer.putObject("resources").putObject("core").put("limit", FakeFaults.LIMIT);
                return Answer.of(200, answer);
            }
            if (method.equals("GET") && path.equals("/installation/repositories")) {
                List<JsonNode> repos = github.state.repos.values().stream().filter(r -> caller.owns(r.owner()))
                        .map(r -> (JsonNode) FakePayloads.repository(github, r)).toList();
                return page(path, query, repos, "repositories");
            }
            Matcher keys = USER_KEYS.matcher(path);
            if (method.equals("GET") && keys.matches()) {
                return userKeys(decode(keys.group(1)), path, query);
            }
            Matcher scope = SCOPE.matcher(path);
            if (scope.matches()) {
                return runnerRoute(method, path, query, body, caller, scope);
            }
            Matcher actions = REPO_ACTIONS.matcher(path);
            if (actions.matches() && method.equals("GET")) {
                String owner = decode(actions.group("owner"));
                String name = decode(actions.group("repo"));
                FakeState.Repo repo = github.state.repo(owner, name);
                if (repo == null || !caller.owns(owner)) {
                    return error(404, "Not Found");
                }
                if (!caller.has("actions", false)) {
                    return error(403, "Resource not accessible by integration");
                }
                String rest = actions.group("rest");
                if (rest.equals("runs")) {
                    String status = query.get("status");
                    List<JsonNode> runs = github.state.runs.values().stream().filter(r -> r.repo.equals(repo))
                            .filter(r -> status == null || status.equals(r.status()) || status.equals(r.conclusion()))
                            .sorted((a, b) -> Long.compare(b.id, a.id)).limit(1000)
                            .map(r -> (JsonNode) FakePayloads.run(github, r)).toList();
                    return page(path, query, runs, "workflow_runs");
                }
                if (rest.startsWith("runs/")) {
                    FakeState.Run run = github.state.runs.get(Long.parseLong(rest.split("/")[1]));
                    if (run == null || !run.repo.equals(repo)) {
                        return error(404, "Not Found");
                    }
                    List<JsonNode> jobs = run.jobs.stream().map(j -> (JsonNode) FakePayloads.job(github, j)).toList();
                    return page(path, query, jobs, "jobs");
                }
                FakeState.Job job = github.state.jobs.get(Long.parseLong(rest.split("/")[1]));
                if (job == null || !job.run.repo.equals(repo)) {
                    return error(404, "Not Found");
                }
                return Answer.of(200, FakePayloads.job(github, job));
            }
            return error(404, "Not Found");
        }
    }

    private Answer runnerRoute(String method, String path, Map<String, String> query, byte[] body, FakeState.Installation caller, Matcher scope) {
        String owner = decode(scope.group("org") != null ? scope.group("org") : scope.group("owner"));
        String repoName = scope.group("repo") == null ? null : decode(scope.group("repo"));
        String rest = scope.group("rest") == null ? "" : scope.group("rest");
        if (!caller.owns(owner) || (repoName != null && github.state.repo(owner, repoName) == null)
                || (repoName == null && !caller.type.equals("Organization"))) {
            return error(404, "Not Found");
        }
        String permission = repoName == null ? "organization_self_hosted_runners" : "administration";
        boolean write = !method.equals("GET");
        if (!caller.has(permission, write)) {
            return error(403, "Resource not accessible by integration");
        }
        if (method.equals("POST") && rest.equals("/generate-jitconfig")) {
            return generateJitConfig(owner, repoName, body);
        }
        if (method.equals("GET") && rest.isEmpty()) {
            String name = query.get("name");
            List<JsonNode> runners = github.state.runners.values().stream()
                    .filter(r -> !r.deleted && r.inScope(owner, repoName) && (name == null || r.name.equals(name)))
                    .map(r -> (JsonNode) FakePayloads.runner(r)).toList();
            return page(path, query, runners, "runners");
        }
        Matcher id = Pattern.compile("^/(\\d+)$").matcher(rest);
        if (id.matches()) {
            FakeState.Runner runner = github.state.runners.get(Long.parseLong(id.group(1)));
            if (runner == null || runner.deleted || !runner.inScope(owner, repoName)) {
                return error(404, "Not Found");
            }
            if (method.equals("GET")) {
                return Answer.of(200, FakePayloads.runner(runner));
            }
            if (method.equals("DELETE")) {
                if (runner.busy()) {
                    return error(422, "Bad request - Runner \"" + runner.name + "\" is still running a job");
                }
                runner.deleted = true;
                return Answer.of(204, null);
            }
        }
        return error(404, "Not Found");
    }

    private Answer generateJitConfig(String owner, String repoName, byte[] body) {
        JsonNode request;
        try {
            request = FakeGitHub.JSON.readTree(body);
        } catch (IOException e) {
            return error(400, "Problems parsing JSON");
        }
        if (request == null || !request.isObject()) {
            return error(400, "Problems parsing JSON");
        }
        for (String required : List.of("name", "runner_group_id", "labels")) {
            if (!request.has(required)) {
                return validation("Invalid input: object is missing required key: " + required + ".");
            }
        }
        JsonNode name = request.get("name");
        if (!name.isTextual() || name.asText().isBlank()) {
            return validation("Invalid input: name must be a non-empty string.");
        }
        if (!request.get("runner_group_id").isIntegralNumber()) {
            return validation("Invalid input: runner_group_id must be an integer.");
        }
        JsonNode labels = request.get("labels");
        if (!labels.isArray() || labels.isEmpty() || labels.size() > 100) {
            return validation("Invalid input: labels must be an array of 1 to 100 strings.");
        }
        List<String> labelList = new ArrayList<>();
        for (JsonNode label : labels) {
            if (!label.isTextual() || label.asText().isBlank() || label.asText().length() > 256) {
                return validation("Invalid input: each label must be a non-empty string.");
            }
            labelList.add(label.asText());
        }
        long groupId = request.get("runner_group_id").asLong();
        FakeState.Group group = repoName == null
                ? github.state.groups(owner).stream().filter(g -> g.id() == groupId).findFirst().orElse(null)
                : groupId == 1 ? new FakeState.Group(1, "Default", false) : null;
        if (group == null) {
            return error(404, "Not Found");
        }
        if (group.hosted()) {
            return error(403, "Runner group " + groupId + " is for GitHub-hosted runners; self-hosted runners cannot join it");
        }
        String runnerName = name.asText();
        boolean taken = github.state.runners.values().stream().anyMatch(r -> !r.deleted && r.inScope(owner, repoName) && r.name.equalsIgnoreCase(runnerName));
        if (taken) {
            return error(409, "Already exists - A runner with the name " + runnerName + " already exists.");
        }
        String workFolder = request.path("work_folder").asText("_work");
        FakeState.Runner runner = new FakeState.Runner(github.state.nextId(), owner, repoName, runnerName, group, labelList,
                randomToken(40));
        github.state.runners.put(runner.id, runner);
        Base64.Encoder b64 = Base64.getEncoder();
        ObjectNode runnerFile = FakeGitHub.JSON.createObjectNode();
        runnerFile.put("agentId", runner.id);
        runnerFile.put("agentName", runnerName);
        runnerFile.put("poolId", group.id());
        runnerFile.put("poolName", group.name());
        runnerFile.put("serverUrl", github.runnerUrl() + "/");
        runnerFile.put("gitHubUrl", github.url() + "/" + runner.scope());
        runnerFile.put("workFolder", workFolder);
        runnerFile.put("ephemeral", true);
        runnerFile.put("disableUpdate", true);
        ObjectNode credentials = FakeGitHub.JSON.createObjectNode();
        credentials.put("scheme", "OAuthAccessToken");
        credentials.putObject("data").put("token", runner.token);
        ObjectNode files = FakeGitHub.JSON.createObjectNode();
        files.put(".runner", b64.encodeToString(runnerFile.toString().getBytes(UTF_8)));
        files.put(".credentials", b64.encodeToString(credentials.toString().getBytes(UTF_8)));
        files.put(".credentials_rsaparams", b64.encodeToString("{}".getBytes(UTF_8)));
        ObjectNode answer = FakeGitHub.JSON.createObjectNode();
        answer.set("runner", FakePayloads.runner(runner));
        answer.put("encoded_jit_config", b64.encodeToString(files.toString().getBytes(UTF_8)));
        return Answer.of(201, answer);
    }

    // ---- helpers ----

    /** {@code GET /users/{username}/keys}: {@code [{"id": 1, "key": "ssh-ed25519 AAAA…"}]}, paged; 404 for no such user. */
    private Answer userKeys(String login, String path, Map<String, String> query) {
        synchronized (github.lock) {
            List<FakeState.UserKey> keys = github.state.userKeys.get(login.toLowerCase(Locale.ROOT));
            if (keys == null) {
                return error(404, "Not Found");
            }
            List<JsonNode> items = keys.stream().map(k -> {
                ObjectNode key = FakeGitHub.JSON.createObjectNode();
                key.put("id", k.id());
                key.put("key", k.key());
                return (JsonNode) key;
            }).toList();
            return page(path, query, items, null);
        }
    }

    /** One page of {@code items} with GitHub's {@code per_page}, {@code page} and {@code Link} rules; a bare array when {@code field} is null. */
    private Answer page(String path, Map<String, String> query, List<JsonNode> items, String field) {
        int perPage = Math.min(100, Math.max(1, intParam(query, "per_page", 30)));
        int page = Math.max(1, intParam(query, "page", 1));
        int from = Math.min(items.size(), (page - 1) * perPage);
        int to = Math.min(items.size(), from + perPage);
        ArrayNode array = FakeGitHub.JSON.createArrayNode();
        items.subList(from, to).forEach(array::add);
        JsonNode body = array;
        if (field != null) {
            ObjectNode object = FakeGitHub.JSON.createObjectNode();
            object.put("total_count", items.size());
            object.set(field, array);
            body = object;
        }
        Answer answer = Answer.of(200, body);
        if (to < items.size()) {
            Map<String, String> next = new LinkedHashMap<>(query);
            next.put("page", Integer.toString(page + 1));
            int last = (items.size() + perPage - 1) / perPage;
            Map<String, String> lastQuery = new LinkedHashMap<>(query);
            lastQuery.put("page", Integer.toString(last));
            answer.headers().put("Link", "<" + github.url() + path + "?" + join(next) + ">; rel=\"next\", <"
                    + github.url() + path + "?" + join(lastQuery) + ">; rel=\"last\"");
        }
        return answer;
    }

    private static int intParam(Map<String, String> query, String name, int fallback) {
        try {
            return query.containsKey(name) ? Integer.parseInt(query.get(name)) : fallback;
        } catch (NumberFormatException e) {
            throw new BadRequest(422, "Invalid request: " + name + " is not a number");
        }
    }

    static String credential(HttpExchange exchange) {
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (header == null) {
            return null;
        }
        String lower = header.toLowerCase(Locale.ROOT);
        if (lower.startsWith("bearer ")) {
            return header.substring(7).strip();
        }
        if (lower.startsWith("token ")) {
            return header.substring(6).strip();
        }
        return null;
    }

    /** The route's template, for counting: ids and names replaced. */
    static String template(String path) {
        Matcher scope = SCOPE.matcher(path);
        if (scope.matches()) {
            String rest = scope.group("rest") == null ? "" : scope.group("rest").replaceAll("/\\d+", "/{id}");
            return (scope.group("org") != null ? "/orgs/{org}" : "/repos/{owner}/{repo}") + "/actions/runners" + rest;
        }
        return path.replaceAll("^/repos/[^/]+/[^/]+", "/repos/{owner}/{repo}").replaceAll("^/orgs/[^/]+", "/orgs/{org}")
                .replaceAll("/runs/\\d+", "/runs/{run_id}").replaceAll("/\\d+", "/{id}");
    }

    static Answer error(int status, String message) {
        return error(status, message, FakeGitHub.DOCS);
    }

    static Answer error(int status, String message, String documentationUrl) {
        ObjectNode body = FakeGitHub.JSON.createObjectNode();
        body.put("message", message);
        body.put("documentation_url", documentationUrl);
        body.put("status", Integer.toString(status));
        return Answer.of(status, body);
    }

    private static Answer validation(String message) {
        Answer answer = error(422, message);
        ((ObjectNode) answer.body()).putArray("errors").add(message);
        return answer;
    }

    static String randomToken(int length) {
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        StringBuilder token = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            token.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
        }
        return token.toString();
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> query = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return query;
        }
        for (String part : raw.split("&")) {
            int eq = part.indexOf('=');
            query.put(decode(eq < 0 ? part : part.substring(0, eq)), eq < 0 ? "" : decode(part.substring(eq + 1)));
        }
        return query;
    }

    private static String join(Map<String, String> query) {
        List<String> parts = new ArrayList<>();
        query.forEach((k, v) -> parts.add(java.net.URLEncoder.encode(k, UTF_8) + "=" + java.net.URLEncoder.encode(v, UTF_8)));
        return String.join("&", parts);
    }

    static String decode(String text) {
        return URLDecoder.decode(text, UTF_8);
    }

    /** Answers with a status and message from deep inside a route. */
    static final class BadRequest extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final int status;

        BadRequest(int status, String message) {
            super(message);
            this.status = status;
        }
    }
}
