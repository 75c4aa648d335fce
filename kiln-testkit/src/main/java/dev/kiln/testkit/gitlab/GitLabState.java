package dev.kiln.testkit.gitlab;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The fake's data. Not thread-safe by itself: FakeGitLab guards every access with its lock. */
final class GitLabState {
    record User(long id, String username, boolean admin) {}

    record AccessToken(String value, User user, Set<String> scopes) {
        boolean allows(String scope) {
            return scopes.contains(scope) || scopes.contains("api");
        }
    }

    /** A group ({@code acme}, {@code acme/platform}) or a project ({@code acme/widgets}): a namespace path. */
    record Namespace(long id, String path, boolean project) {
        String name() {
            return path.substring(path.lastIndexOf('/') + 1);
        }

        /** Whether {@code other} is this group or lies below it. */
        boolean contains(Namespace other) {
            return other.path.equalsIgnoreCase(path) || other.path.toLowerCase(Locale.ROOT).startsWith(path.toLowerCase(Locale.ROOT) + "/");
        }
    }

    static final class Runner {
        final long id;
        final String type; // instance_type, group_type, project_type
        final Namespace scope; // null for an instance runner
        final String token;
        final String description;
        final Set<String> tags;
        final boolean runUntagged;
        final boolean paused;
        final List<Long> jobsTaken = new ArrayList<>();
        Long runningJob;
        boolean deleted;
        Instant contactedAt;

        Runner(long id, String type, Namespace scope, String token, String description, Set<String> tags, boolean runUntagged, boolean paused) {
            this.id = id;
            this.type = type;
            this.scope = scope;
            this.token = token;
            this.description = description;
            this.tags = Set.copyOf(tags);
            this.runUntagged = runUntagged;
            this.paused = paused;
        }

        /** GitLab's rule (ci-protocols.md §6.1): every tag of the job on the runner; untagged jobs only with run_untagged; in scope. */
        boolean canRun(Job job) {
            boolean tagsOk = job.tags.isEmpty() ? runUntagged : tags.containsAll(job.tags);
            boolean inScope = switch (type) {
                case "instance_type" -> true;
                case "group_type" -> scope.contains(job.project);
                default -> scope.id() == job.project.id();
            };
            return !paused && !deleted && tagsOk && inScope;
        }
    }

    static final class Job {
        final long id;
        final long pipelineId;
        final Namespace project;
        final String name;
        final String stage;
        final List<String> tags;
        final String script;
        final Instant createdAt;
        final String token;
        String status = "created";
        Runner runner;
        Instant startedAt;
        Instant finishedAt;
        Integer exitCode;
        String failureReason;
        final java.io.ByteArrayOutputStream trace = new java.io.ByteArrayOutputStream();

        Job(long id, long pipelineId, Namespace project, String name, String stage, List<String> tags, String script, Instant createdAt, String token) {
            this.id = id;
            this.pipelineId = pipelineId;
            this.project = project;
            this.name = name;
            this.stage = stage;
            this.tags = List.copyOf(tags);
            this.script = script;
            this.createdAt = createdAt;
            this.token = token;
        }

        boolean finished() {
            return status.equals("success") || status.equals("failed") || status.equals("canceled") || status.equals("skipped");
        }
    }

    final Map<String, AccessToken> tokens = new LinkedHashMap<>();
    final Map<String, User> users = new LinkedHashMap<>();
    final Map<String, Namespace> namespaces = new LinkedHashMap<>(); // by lower-case path
    final Map<Long, Map<Long, FakeGitLab.Role>> members = new LinkedHashMap<>(); // namespace id -> user id -> role
    final Map<Long, Runner> runners = new LinkedHashMap<>();
    final Map<Long, Job> jobs = new LinkedHashMap<>();
    final Set<Long> projectsWithHook = new LinkedHashSet<>();
    long nextId = 100;

    long nextId() {
        return ++nextId;
    }

    /** A namespace by numeric id or (URL-decoded) path, as GitLab's {@code :id} takes either. */
    Namespace namespace(String idOrPath, boolean project) {
        Namespace found = idOrPath.matches("\\d+")
                ? namespaces.values().stream().filter(n -> n.id() == Long.parseLong(idOrPath)).findFirst().orElse(null)
                : namespaces.get(idOrPath.toLowerCase(Locale.ROOT));
        return found != null && found.project() == project ? found : null;
    }

    /**
     * The user's role on a namespace: the highest of its own membership and its parent groups' (GitLab
     * members inherit down the hierarchy); administrators count as owners everywhere.
     */
    FakeGitLab.Role role(User user, Namespace namespace) {
        if (user.admin()) {
            return FakeGitLab.Role.OWNER;
        }
        FakeGitLab.Role best = null;
        for (Namespace n : namespaces.values()) {
            if (!n.project() || n.id() == namespace.id()) {
                if (n.contains(namespace)) {
                    FakeGitLab.Role role = members.getOrDefault(n.id(), Map.of()).get(user.id());
                    if (role != null && (best == null || role.compareTo(best) > 0)) {
                        best = role;
                    }
                }
            }
        }
        return best;
    }
}
