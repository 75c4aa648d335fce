package dev.kiln.testkit.github;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.PublicKey;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A faithful fake of GitHub for one GitHub App, written from {@code shared/reference/ci-protocols.md}: it
 * checks App JWTs and installation tokens, permissions, runner groups and labels, answers with GitHub's
 * documented statuses, bodies and rate-limit headers, and emits signed {@code workflow_job} webhooks as jobs
 * move. A small runner-side API (under {@code /_apis/}) lets Kiln's stand-in runner connect with its JIT
 * config, claim one queued job whose labels it carries, run the job's script and report the result.
 *
 * <p>Real HTTP on a loopback port chosen by the system. Time is the injected clock's, so rate-limit resets
 * and token expiry are tested by moving it. Thread-safe: one lock guards all state.
 */
public final class FakeGitHub implements AutoCloseable {
    /** What Kiln's App asks for (ci-protocols.md §2.4). */
    public static final Map<String, String> KILN_PERMISSIONS = Map.of("actions", "read", "metadata", "read",
            "organization_self_hosted_runners", "write", "administration", "write");
    static final String DOCS = "https://docs.github.com/rest";
    static final ObjectMapper JSON = new ObjectMapper();

    /** A job as the fake sees it. {@code exitCode} and {@code output} are what the runner reported. */
    public record JobView(long id, long runId, String repository, List<String> labels, String status, String conclusion,
            String runnerName, Integer exitCode, String output) {}

    /** A registered runner. {@code scope} is {@code owner} or {@code owner/repo}. */
    public record RunnerView(long id, String scope, String name, List<String> labels, long groupId, boolean online, boolean busy) {}

    final long appId;
    final String clientId;
    final PublicKey appKey;
    final InstantSource clock;
    final FakeState state = new FakeState();
    final FakeFaults faults;
    final Object lock = new Object();
    private final FakeWebhooks webhooks;
    private final HttpServer server;
    private final ExecutorService executor;
    private final URI url;
    private volatile URI runnerUrl;

    private FakeGitHub(long appId, PublicKey appKey, InstantSource clock) throws IOException {
        this.appId = appId;
        this.clientId = "Iv23li" + Long.toHexString(appId * 7919);
        this.appKey = appKey;
        this.clock = clock;
        this.faults = new FakeFaults(clock);
        this.webhooks = new FakeWebhooks(appId * 10 + 1, appId);
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("fake-github-", 0).factory());
        server.setExecutor(executor);
        server.createContext("/", new FakeApi(this));
        server.start();
        this.url = URI.create("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getAddress().getPort());
    }

    /** Starts a fake for the App {@code appId} whose JWTs verify with {@code appKey}. */
    public static FakeGitHub start(long appId, PublicKey appKey, InstantSource clock) {
        try {
            return new FakeGitHub(appId, appKey, clock);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the fake GitHub on a loopback port", e);
        }
    }

    /** The REST API's base, also the server URL the runner side uses unless {@link #serveRunnersAt} moved it. */
    public URI url() {
        return url;
    }

    /**
     * The address runners are told to connect to in their JIT configs, for runners that cannot reach
     * this JVM's loopback (a VM reaching the fake through a forwarder); the API stays on {@link #url()}.
     */
    public void serveRunnersAt(URI address) {
        runnerUrl = address;
    }

    URI runnerUrl() {
        URI moved = runnerUrl;
        return moved == null ? url : moved;
    }

    public FakeWebhooks webhooks() {
        return webhooks;
    }

    public FakeFaults faults() {
        return faults;
    }

    /** Installs the App on an organisation; its repositories are the ones added with {@link #addRepository}. */
    public long installOnOrganization(String org, Map<String, String> permissions) {
        return install(org, "Organization", permissions, List.of("workflow_job"));
    }

    public long installOnUser(String user, Map<String, String> permissions) {
        return install(user, "User", permissions, List.of("workflow_job"));
    }

    public long install(String account, String type, Map<String, String> permissions, List<String> events) {
        synchronized (lock) {
            long id = state.nextId();
            state.installations.put(id, new FakeState.Installation(id, account, type, permissions, events));
            return id;
        }
    }

    public void suspend(long installationId) {
        synchronized (lock) {
            state.installations.get(installationId).suspended = true;
        }
    }

    /** Revokes every token of an installation: later requests with them get 401 "Bad credentials". */
    public void revokeTokens(long installationId) {
        synchronized (lock) {
            state.tokens.values().removeIf(t -> t.installationId() == installationId);
        }
    }

    /** The events the App subscribes to (default {@code workflow_job}). */
    public void setAppEvents(List<String> events) {
        synchronized (lock) {
            state.appEvents = List.copyOf(events);
        }
    }

    /** Adds a runner group to an organisation (besides 1 "Default" and 2, the GitHub-hosted group). */
    public long addRunnerGroup(String org, String name) {
        synchronized (lock) {
            long id = state.nextId();
            state.extraGroups.computeIfAbsent(org.toLowerCase(Locale.ROOT), o -> new java.util.ArrayList<>())
                    .add(new FakeState.Group(id, name, false));
            return id;
        }
    }

    public void addRepository(String owner, String name) {
        synchronized (lock) {
            FakeState.Repo repo = new FakeState.Repo(state.nextId(), owner, name);
            state.repos.put(repo.fullName().toLowerCase(Locale.ROOT), repo);
        }
    }

    /** Queues a run with one job that runs {@code script} (bash) on a runner carrying all {@code labels}; emits {@code queued}. */
    public long queueJob(String owner, String repo, String jobName, List<String> labels, String script) {
        return addJob(owner, repo, jobName, labels, script, "queued");
    }

    /** Queues a job as {@link #queueJob} does, in a run that {@code sender} triggered (its webhooks' {@code sender}). */
    public long queueJobBy(String sender, String owner, String repo, String jobName, List<String> labels, String script) {
        return addJob(owner, repo, jobName, labels, script, "queued", sender);
    }

    /** Adds a public SSH key (an authorized_keys line) to the user {@code login}: {@code GET /users/{login}/keys} lists it. */
    public long addUserKey(String login, String key) {
        synchronized (lock) {
            long id = state.nextId();
            state.userKeys.computeIfAbsent(login.toLowerCase(Locale.ROOT), l -> new java.util.ArrayList<>())
                    .add(new FakeState.UserKey(id, key.strip()));
            return id;
        }
    }

    /** A job held by an environment protection rule; emits {@code waiting}; {@link #approve} queues it. */
    public long queueWaitingJob(String owner, String repo, String jobName, List<String> labels, String script) {
        return addJob(owner, repo, jobName, labels, script, "waiting");
    }

    private long addJob(String owner, String repo, String jobName, List<String> labels, String script, String status) {
        return addJob(owner, repo, jobName, labels, script, status, "octocat");
    }

    private long addJob(String owner, String repo, String jobName, List<String> labels, String script, String status,
            String sender) {
        synchronized (lock) {
            FakeState.Repo r = state.repo(owner, repo);
            if (r == null) {
                throw new IllegalArgumentException("no repository " + owner + "/" + repo + " in the fake; addRepository first");
            }
            Instant now = clock.instant();
            FakeState.Run run = new FakeState.Run(state.nextId(), r, now);
            FakeState.Job job = new FakeState.Job(state.nextId(), run, jobName, labels, script, now, status);
            job.sender = sender;
            run.jobs.add(job);
            state.runs.put(run.id, run);
            state.jobs.put(job.id, job);
            emitJob(job, status);
            return job.id;
        }
    }

    public void approve(long jobId) {
        synchronized (lock) {
            FakeState.Job job = job0(jobId);
            if (!job.status.equals("waiting")) {
                throw new IllegalStateException("job " + jobId + " is " + job.status + ", not waiting");
            }
            job.status = "queued";
            emitJob(job, "queued");
        }
    }

    /** Cancels a job that no runner took yet: {@code completed}/{@code cancelled} with no runner. */
    public void cancel(long jobId) {
        synchronized (lock) {
            FakeState.Job job = job0(jobId);
            if (job.status.equals("completed")) {
                return;
            }
            job.status = "completed";
            job.conclusion = "cancelled";
            job.completedAt = clock.instant();
            if (job.runner != null) {
                job.runner.jobId = null;
            }
            emitJob(job, "completed");
        }
    }

    public JobView job(long jobId) {
        synchronized (lock) {
            FakeState.Job job = job0(jobId);
            return new JobView(job.id, job.run.id, job.run.repo.fullName(), job.labels, job.status, job.conclusion,
                    job.runner == null ? null : job.runner.name, job.exitCode, job.output);
        }
    }

    /** Registered runners (JIT runners disappear once their job completes or they are deleted). */
    public List<RunnerView> runners() {
        synchronized (lock) {
            return state.runners.values().stream().filter(r -> !r.deleted)
                    .map(r -> new RunnerView(r.id, r.scope(), r.name, r.labels, r.groupId, r.online, r.busy())).toList();
        }
    }

    /** Requests served, by route (e.g. {@code POST /orgs/{org}/actions/runners/generate-jitconfig}). */
    public Map<String, Long> requests() {
        return faults.requests();
    }

    FakeState.Job job0(long jobId) {
        FakeState.Job job = state.jobs.get(jobId);
        if (job == null) {
            throw new IllegalArgumentException("no job " + jobId + " in the fake");
        }
        return job;
    }

    /** Emits a {@code workflow_job} delivery for the job's current state. Called with the lock held; sending is asynchronous. */
    void emitJob(FakeState.Job job, String action) {
        ObjectNode body = JSON.createObjectNode();
        body.put("action", action);
        body.set("workflow_job", FakePayloads.job(this, job));
        FakeState.Repo repo = job.run.repo;
        body.set("repository", FakePayloads.repository(this, repo));
        FakeState.Installation installation = state.installationOn(repo.owner());
        if (installation != null && installation.type.equals("Organization")) {
            ObjectNode org = body.putObject("organization");
            org.put("login", repo.owner());
            org.put("id", Math.abs(repo.owner().toLowerCase(Locale.ROOT).hashCode()));
            org.put("url", url + "/orgs/" + repo.owner());
        }
        if (installation != null) {
            ObjectNode inst = body.putObject("installation");
            inst.put("id", installation.id);
            inst.put("node_id", "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u" + installation.id);
        }
        ObjectNode sender = body.putObject("sender");
        sender.put("login", job.sender);
        sender.put("id", job.sender.equals("octocat") ? 583231 : Math.abs(job.sender.toLowerCase(Locale.ROOT).hashCode()));
        sender.put("type", "User");
        webhooks.emit("workflow_job", action, body.toString().getBytes(UTF_8));
    }

    /** Sends a {@code ping} as GitHub does when the App's webhook is set up. */
    public void ping() {
        ObjectNode body = JSON.createObjectNode();
        body.put("zen", "Design for failure.");
        body.put("hook_id", appId * 10 + 1);
        ObjectNode hook = body.putObject("hook");
        hook.put("type", "App");
        hook.put("id", appId * 10 + 1);
        hook.put("name", "web");
        hook.put("active", true);
        hook.putArray("events").add("workflow_job");
        hook.put("app_id", appId);
        webhooks.emit("ping", null, body.toString().getBytes(UTF_8));
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        webhooks.close();
    }

    Duration tokenLifetime() {
        return Duration.ofHours(1);
    }
}
