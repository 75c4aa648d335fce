package dev.kiln.testkit.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A faithful fake of a GitLab instance's CI side, written from {@code shared/reference/ci-protocols.md} §6
 * and GitLab's API documentation: users with access tokens and scopes, groups and projects with member
 * roles, runners created with {@code POST /api/v4/user/runners} (scope, role and tag rules checked) and
 * deleted, the runner API that {@code gitlab-runner} speaks ({@code POST /jobs/request} long-polls and hands
 * a pending job only to a runner whose tags cover the job's, trace appends with {@code Content-Range}, status
 * updates), the Jobs API with {@code scope[]} filters and pagination, and Job Hooks sent as jobs move.
 * Errors are GitLab's: 401 {@code {"message": "401 Unauthorized"}}, 403 with {@code insufficient_scope} or
 * {@code "403 Forbidden"}, 404 {@code "404 Project Not Found"}, 400 with Grape's {@code error}.
 *
 * <p>Real HTTP on a loopback port the system picks. Time is the injected clock's. Thread-safe: one lock
 * guards all state.
 */
public final class FakeGitLab implements AutoCloseable {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final SecureRandom RANDOM = new SecureRandom();

    /** A member's role on a group or project. */
    public enum Role { GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER }

    /** A job as the fake sees it; {@code trace} is what the runner appended, {@code exitCode} what it reported. */
    public record JobView(long id, long projectId, String project, String name, List<String> tags, String status,
            Long runnerId, Integer exitCode, String failureReason, String trace) {}

    /** A runner that exists (deleted ones are gone); {@code jobs} are the ids of the jobs it took, in order. */
    public record RunnerView(long id, String type, String scope, String description, Set<String> tags, boolean runUntagged,
            List<Long> jobs) {}

    final InstantSource clock;
    final GitLabState state = new GitLabState();
    final FakeGitLabFaults faults = new FakeGitLabFaults();
    final Object lock = new Object();
    private final FakeGitLabHooks hooks;
    private final HttpServer server;
    private final ExecutorService executor;
    private final URI url;
    // guarded by lock
    private Duration longPoll = Duration.ofSeconds(2);

    private FakeGitLab(InstantSource clock) throws IOException {
        this.clock = clock;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("fake-gitlab-", 0).factory());
        server.setExecutor(executor);
        this.url = URI.create("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getAddress().getPort());
        this.hooks = new FakeGitLabHooks(clock, url.toString());
        server.createContext("/", new GitLabApi(this));
        server.start();
    }

    public static FakeGitLab start(InstantSource clock) {
        try {
            return new FakeGitLab(clock);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the fake GitLab on a loopback port", e);
        }
    }

    /** The instance's URL; the API is under {@code /api/v4}. */
    public URI url() {
        return url;
    }

    public FakeGitLabHooks hooks() {
        return hooks;
    }

    public FakeGitLabFaults faults() {
        return faults;
    }

    /** How long {@code POST /jobs/request} holds a runner that sent {@code last_update} when no job is there (Workhorse's long poll; default 2 s). */
    public void longPoll(Duration hold) {
        synchronized (lock) {
            longPoll = hold;
        }
    }

    Duration longPoll() {
        synchronized (lock) {
            return longPoll;
        }
    }

    public void addUser(String username, boolean admin) {
        synchronized (lock) {
            state.users.put(username, new GitLabState.User(state.nextId(), username, admin));
        }
    }

    /** A personal access token of {@code username} with these scopes ({@code api}, {@code create_runner}, {@code manage_runner}, {@code read_api}). */
    public String addAccessToken(String username, String... scopes) {
        synchronized (lock) {
            GitLabState.User user = user0(username);
            String value = "glpat-" + HexFormat.of().formatHex(randomBytes(10));
            state.tokens.put(value, new GitLabState.AccessToken(value, user, Set.of(scopes)));
            return value;
        }
    }

    public void revokeAccessToken(String token) {
        synchronized (lock) {
            state.tokens.remove(token);
        }
    }

    /** A group, e.g. {@code acme} or the subgroup {@code acme/platform} (its parent must exist). */
    public long addGroup(String path) {
        return addNamespace(path, false);
    }

    /** A project, e.g. {@code acme/widgets}, in an existing group. */
    public long addProject(String path) {
        return addNamespace(path, true);
    }

    private long addNamespace(String path, boolean project) {
        synchronized (lock) {
            int slash = path.lastIndexOf('/');
            if (slash > 0 && state.namespace(path.substring(0, slash), false) == null) {
                throw new IllegalArgumentException("no group " + path.substring(0, slash) + " in the fake; addGroup first");
            }
            if (project && slash < 0) {
                throw new IllegalArgumentException("a project lives in a group: " + path + " has none");
            }
            GitLabState.Namespace namespace = new GitLabState.Namespace(state.nextId(), path, project);
            state.namespaces.put(path.toLowerCase(java.util.Locale.ROOT), namespace);
            return namespace.id();
        }
    }

    public void addMember(String path, String username, Role role) {
        synchronized (lock) {
            GitLabState.Namespace namespace = state.namespaces.get(path.toLowerCase(java.util.Locale.ROOT));
            if (namespace == null) {
                throw new IllegalArgumentException("no group or project " + path + " in the fake");
            }
            state.members.computeIfAbsent(namespace.id(), n -> new LinkedHashMap<>()).put(user0(username).id(), role);
        }
    }

    /**
     * A pipeline with one job in {@code project} running {@code script} (bash, line by line as GitLab's
     * {@code script:} steps) on a runner with every one of {@code tags}: the job is created then pending,
     * a Job Hook for each.
     */
    public long queueJob(String project, String name, List<String> tags, String script) {
        synchronized (lock) {
            GitLabState.Namespace namespace = state.namespace(project, true);
            if (namespace == null) {
                throw new IllegalArgumentException("no project " + project + " in the fake; addProject first");
            }
            GitLabState.Job job = new GitLabState.Job(state.nextId(), state.nextId(), namespace, name, "test", tags, script,
                    clock.instant(), "glcbt-" + HexFormat.of().formatHex(randomBytes(10)));
            state.jobs.put(job.id, job);
            emit(job);
            job.status = "pending";
            emit(job);
            lock.notifyAll();
            return job.id;
        }
    }

    /** Cancels a job as a user does: a runner running it learns so from its next trace or status update (403). */
    public void cancel(long jobId) {
        synchronized (lock) {
            GitLabState.Job job = job0(jobId);
            if (job.finished()) {
                return;
            }
            job.status = "canceled";
            job.finishedAt = clock.instant();
            if (job.runner != null && Long.valueOf(job.id).equals(job.runner.runningJob)) {
                job.runner.runningJob = null;
            }
            emit(job);
        }
    }

    /** The id of the job's pipeline (its hooks' {@code pipeline_id}, the Jobs API's {@code pipeline.id}). */
    public long pipelineOf(long jobId) {
        synchronized (lock) {
            return job0(jobId).pipelineId;
        }
    }

    public JobView job(long jobId) {
        synchronized (lock) {
            GitLabState.Job job = job0(jobId);
            return new JobView(job.id, job.project.id(), job.project.path(), job.name, job.tags, job.status,
                    job.runner == null ? null : job.runner.id, job.exitCode, job.failureReason, job.trace.toString(UTF_8));
        }
    }

    public List<RunnerView> runners() {
        synchronized (lock) {
            return state.runners.values().stream().filter(r -> !r.deleted)
                    .map(r -> new RunnerView(r.id, r.type, r.scope == null ? null : r.scope.path(), r.description, r.tags,
                            r.runUntagged, List.copyOf(r.jobsTaken)))
                    .toList();
        }
    }

    /** REST requests received, by route (e.g. {@code POST /user/runners}). */
    public Map<String, Long> requests() {
        return faults.requests();
    }

    GitLabState.Job job0(long jobId) {
        GitLabState.Job job = state.jobs.get(jobId);
        if (job == null) {
            throw new IllegalArgumentException("no job " + jobId + " in the fake");
        }
        return job;
    }

    private GitLabState.User user0(String username) {
        GitLabState.User user = state.users.get(username);
        if (user == null) {
            throw new IllegalArgumentException("no user " + username + " in the fake; addUser first");
        }
        return user;
    }

    /** A Job Hook for the job's current status. Called with the lock held; sending is asynchronous. */
    void emit(GitLabState.Job job) {
        hooks.emit("Job Hook", GitLabPayloads.jobHook(this, job).toString().getBytes(UTF_8));
    }

    Instant now() {
        return clock.instant();
    }

    static byte[] randomBytes(int count) {
        byte[] bytes = new byte[count];
        RANDOM.nextBytes(bytes);
        return bytes;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        hooks.close();
    }
}
