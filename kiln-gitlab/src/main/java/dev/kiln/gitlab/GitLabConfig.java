package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ConfigFile;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * How Kiln reaches a GitLab instance. Loaded from a properties file and the environment (the environment
 * wins) and validated at once, every problem listed together. The access token and the webhook secret
 * never appear in {@link #toString()} or in a message.
 *
 * <p>Keys of the file (environment variable in brackets):
 * <ul>
 *   <li>{@code url} [KILN_GITLAB_URL]: the instance, e.g. {@code https://gitlab.example.com}, required</li>
 *   <li>{@code runner-url} [KILN_GITLAB_RUNNER_URL]: the instance as the runners in VMs reach it, default {@code url}</li>
 *   <li>{@code token-file} [KILN_GITLAB_TOKEN_FILE], or the token itself in KILN_GITLAB_TOKEN: an access token
 *       with the scopes {@code create_runner}, {@code manage_runner} and {@code read_api} (or {@code api}) of a user
 *       who is Maintainer of the projects below (Owner of the groups); required</li>
 *   <li>{@code webhook-secret-file} [KILN_GITLAB_WEBHOOK_SECRET_FILE], or the secret in KILN_GITLAB_WEBHOOK_SECRET:
 *       the hook's secret token; required</li>
 *   <li>{@code projects}, {@code groups}: comma-separated paths ({@code acme/widgets}; {@code acme}, {@code acme/platform})
 *       whose jobs Kiln serves, a group with its subgroups; at least one</li>
 * </ul>
 */
public record GitLabConfig(URI url, URI runnerUrl, String token, String webhookSecret, List<String> projects, List<String> groups) {
    static final String URL = "url";
    static final String RUNNER_URL = "runner-url";
    static final String TOKEN_FILE = "token-file";
    static final String WEBHOOK_SECRET_FILE = "webhook-secret-file";
    static final String PROJECTS = "projects";
    static final String GROUPS = "groups";
    private static final List<String> KEYS = List.of(URL, RUNNER_URL, TOKEN_FILE, WEBHOOK_SECRET_FILE, PROJECTS, GROUPS);
    private static final Map<String, String> ENV = Map.of(
            "KILN_GITLAB_URL", URL,
            "KILN_GITLAB_RUNNER_URL", RUNNER_URL,
            "KILN_GITLAB_TOKEN_FILE", TOKEN_FILE,
            "KILN_GITLAB_WEBHOOK_SECRET_FILE", WEBHOOK_SECRET_FILE,
            "KILN_GITLAB_PROJECTS", PROJECTS,
            "KILN_GITLAB_GROUPS", GROUPS);
    static final String TOKEN_ENV = "KILN_GITLAB_TOKEN";
    static final String SECRET_ENV = "KILN_GITLAB_WEBHOOK_SECRET";
    // GitLab paths: segments of letters, digits, '_', '-', '.', not starting with '-' or '.'.
    private static final Pattern SEGMENT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}");

    public GitLabConfig {
        requireNonNull(url, "url is null");
        requireNonNull(runnerUrl, "runnerUrl is null");
        requireNonNull(token, "token is null");
        requireNonNull(webhookSecret, "webhookSecret is null");
        projects = List.copyOf(projects);
        groups = List.copyOf(groups);
        if (token.isBlank() || webhookSecret.isEmpty()) {
            throw new IllegalArgumentException("the access token and the webhook secret must not be empty");
        }
        if (projects.isEmpty() && groups.isEmpty()) {
            throw new IllegalArgumentException("no project or group to serve");
        }
    }

    /**
     * Reads {@code file} (may be absent when the environment says everything) and the environment.
     *
     * @throws KilnException {@link ErrorCode#INVALID_ARGUMENT} listing every problem at once
     */
    public static GitLabConfig load(Optional<Path> file, Map<String, String> env) {
        List<String> problems = new ArrayList<>();
        Map<String, String> values = ConfigFile.values("GitLab", file, env, ENV, KEYS::contains, KEYS,
                Map.of("token", TOKEN_ENV, "webhook-secret", SECRET_ENV), problems);
        URI url = null;
        if (!values.containsKey(URL)) {
            problems.add(URL + " is missing (the GitLab instance, e.g. https://gitlab.example.com; or KILN_GITLAB_URL)");
        } else {
            url = url(URL, values.get(URL), problems);
        }
        URI runnerUrl = values.containsKey(RUNNER_URL) ? url(RUNNER_URL, values.get(RUNNER_URL), problems) : url;
        String token = ConfigFile.secret(TOKEN_FILE, values.get(TOKEN_FILE), env.get(TOKEN_ENV), TOKEN_ENV,
                "an access token with the scopes create_runner, manage_runner and read_api", problems);
        String secret = ConfigFile.secret(WEBHOOK_SECRET_FILE, values.get(WEBHOOK_SECRET_FILE), env.get(SECRET_ENV), SECRET_ENV,
                "the secret token entered in the project's or group's webhook settings", problems);
        List<String> projects = paths(PROJECTS, values.getOrDefault(PROJECTS, ""), 2, problems);
        List<String> groups = paths(GROUPS, values.getOrDefault(GROUPS, ""), 1, problems);
        if (projects.isEmpty() && groups.isEmpty()) {
            problems.add("no project or group to serve: set " + PROJECTS + " (acme/widgets, …) or " + GROUPS + " (acme, …)");
        }
        ConfigFile.check("GitLab", file, problems);
        return new GitLabConfig(url, runnerUrl, token, secret, projects, groups);
    }

    /** Whether Kiln serves the jobs of this project (by path): listed, or in a listed group or below it. */
    public boolean serves(String projectPath) {
        String path = projectPath.toLowerCase(Locale.ROOT);
        return projects.contains(path) || groups.stream().anyMatch(g -> path.startsWith(g + "/"));
    }

    /** The REST API's base: {@code <url>/api/v4}. */
    public URI apiUrl() {
        return URI.create(url.toString() + "/api/v4");
    }

    @Override
    public String toString() {
        return "GitLabConfig[url=" + url + ", runnerUrl=" + runnerUrl + ", token=[secret], webhookSecret=[secret], projects="
                + projects + ", groups=" + groups + "]";
    }

    private static URI url(String key, String text, List<String> problems) {
        try {
            URI uri = new URI(text.replaceFirst("/+$", ""));
            boolean loopback = "http".equals(uri.getScheme()) && Set.of("localhost", "127.0.0.1", "[::1]").contains(String.valueOf(uri.getHost()));
            if (uri.getHost() != null && ("https".equals(uri.getScheme()) || loopback) && uri.getQuery() == null) {
                return uri;
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        problems.add(key + ": '" + ConfigFile.shorten(text) + "' is not an https URL such as https://gitlab.example.com");
        return null;
    }

    private static List<String> paths(String key, String text, int minSegments, List<String> problems) {
        List<String> paths = new ArrayList<>();
        for (String part : text.split(",")) {
            String entry = part.strip().replaceFirst("/+$", "");
            if (entry.isEmpty()) {
                continue;
            }
            String[] segments = entry.split("/", -1);
            boolean ok = segments.length >= minSegments;
            for (String segment : segments) {
                ok &= SEGMENT.matcher(segment).matches() && !segment.endsWith(".git") && !segment.endsWith(".atom");
            }
            if (ok) {
                paths.add(entry.toLowerCase(Locale.ROOT));
            } else {
                problems.add(key + ": '" + ConfigFile.shorten(entry) + "' is not a GitLab " + (minSegments == 2 ? "project path (acme/widgets)" : "group path (acme, acme/platform)"));
            }
        }
        return paths;
    }
}
