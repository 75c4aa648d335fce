package dev.kiln.testkit.github;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The fake's data. Not thread-safe by itself: FakeGitHub guards every access with its lock. */
final class FakeState {
    static final class Installation {
        final long id;
        final String account;
        final String type;
        final Map<String, String> permissions;
        final List<String> events;
        boolean suspended;

        Installation(long id, String account, String type, Map<String, String> permissions, List<String> events) {
            this.id = id;
            this.account = account;
            this.type = type;
            this.permissions = Map.copyOf(permissions);
            this.events = List.copyOf(events);
        }

        boolean has(String permission, boolean write) {
            String level = permissions.get(permission);
            return level != null && (level.equals("write") || level.equals("admin") || (!write && level.equals("read")));
        }

        boolean owns(String owner) {
            return account.equalsIgnoreCase(owner);
        }
    }

    record Token(String value, long installationId, Instant expiresAt) {}

    record Repo(long id, String owner, String name) {
        String fullName() {
            return owner + "/" + name;
        }
    }

    record Group(long id, String name, boolean hosted) {}

    static final class Runner {
        final long id;
        final String owner;
        final String repo; // null for an organisation runner
        final String name;
        final long groupId;
        final String groupName;
        final List<String> labels;
        final String token;
        boolean online;
        Long jobId;
        boolean deleted;

        Runner(long id, String owner, String repo, String name, Group group, List<String> labels, String token) {
            this.id = id;
            this.owner = owner;
            this.repo = repo;
            this.name = name;
            this.groupId = group.id();
            this.groupName = group.name();
            this.labels = List.copyOf(labels);
            this.token = token;
        }

        boolean busy() {
            return jobId != null;
        }

        String scope() {
            return repo == null ? owner : owner + "/" + repo;
        }

        boolean inScope(String owner, String repo) {
            return this.owner.equalsIgnoreCase(owner) && (this.repo == null ? repo == null : this.repo.equalsIgnoreCase(repo));
        }

        /** GitHub's rule (§3.6): the runner carries every label of the job, compared without case. */
        boolean matches(Job job) {
            List<String> mine = labels.stream().map(l -> l.toLowerCase(Locale.ROOT)).toList();
            return job.labels.stream().allMatch(l -> mine.contains(l.toLowerCase(Locale.ROOT)))
                    && job.run.repo.owner().equalsIgnoreCase(owner)
                    && (repo == null || job.run.repo.name().equalsIgnoreCase(repo));
        }
    }

    static final class Run {
        final long id;
        final Repo repo;
        final Instant createdAt;
        final List<Job> jobs = new ArrayList<>();

        Run(long id, Repo repo, Instant createdAt) {
            this.id = id;
            this.repo = repo;
            this.createdAt = createdAt;
        }

        String status() {
            if (jobs.stream().allMatch(j -> j.status.equals("completed"))) {
                return "completed";
            }
            if (jobs.stream().allMatch(j -> j.status.equals("queued") || j.status.equals("waiting"))) {
                return jobs.stream().anyMatch(j -> j.status.equals("waiting")) ? "waiting" : "queued";
            }
            return "in_progress";
        }

        String conclusion() {
            if (!status().equals("completed")) {
                return null;
            }
            if (jobs.stream().allMatch(j -> "success".equals(j.conclusion) || "skipped".equals(j.conclusion))) {
                return "success";
            }
            return jobs.stream().anyMatch(j -> "failure".equals(j.conclusion)) ? "failure" : "cancelled";
        }
    }

    static final class Job {
        final long id;
        final Run run;
        final String name;
        final List<String> labels;
        final String script;
        final Instant createdAt;
        String status;
        String conclusion;
        Runner runner;
        Instant startedAt;
        Instant completedAt;
        Integer exitCode;
        String output = "";
        /** The login of who triggered the run: the {@code sender} of its webhooks. */
        String sender = "octocat";

        Job(long id, Run run, String name, List<String> labels, String script, Instant createdAt, String status) {
            this.id = id;
            this.run = run;
            this.name = name;
            this.labels = List.copyOf(labels);
            this.script = script;
            this.createdAt = createdAt;
            this.startedAt = createdAt;
            this.status = status;
        }
    }

    final Map<Long, Installation> installations = new LinkedHashMap<>();
    final Map<String, Token> tokens = new LinkedHashMap<>();
    final Map<String, Repo> repos = new LinkedHashMap<>(); // by lower-case full name
    final Map<Long, Runner> runners = new LinkedHashMap<>();
    final Map<Long, Run> runs = new LinkedHashMap<>();
    final Map<Long, Job> jobs = new LinkedHashMap<>();
    final Map<String, List<Group>> extraGroups = new LinkedHashMap<>();
    /** Users' public SSH keys ({@code GET /users/{username}/keys}), by lower-case login. */
    final Map<String, List<UserKey>> userKeys = new LinkedHashMap<>();

    record UserKey(long id, String key) {}
    List<String> appEvents = List.of("workflow_job");
    long nextId = 1000;

    long nextId() {
        return ++nextId;
    }

    Repo repo(String owner, String name) {
        return repos.get((owner + "/" + name).toLowerCase(Locale.ROOT));
    }

    /** The installation on an account, if any. */
    Installation installationOn(String owner) {
        return installations.values().stream().filter(i -> i.owns(owner)).findFirst().orElse(null);
    }

    /** An organisation's groups: 1 "Default", 2 the GitHub-hosted runners' group (JIT refused), and any added. */
    List<Group> groups(String owner) {
        List<Group> groups = new ArrayList<>(List.of(new Group(1, "Default", false), new Group(2, "Default Larger Runners", true)));
        groups.addAll(extraGroups.getOrDefault(owner.toLowerCase(Locale.ROOT), List.of()));
        return groups;
    }
}
