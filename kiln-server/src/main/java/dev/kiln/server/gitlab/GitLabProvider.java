package dev.kiln.server.gitlab;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpHandler;
import dev.kiln.core.KilnException;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.gitlab.GitLabJob;
import dev.kiln.gitlab.HookVerifier;
import dev.kiln.gitlab.JobHook;
import dev.kiln.gitlab.JobHooks;
import dev.kiln.server.Provider;
import dev.kiln.server.ProviderContext;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GitLab as a {@link Provider}: Job Hooks at {@code /webhooks/gitlab} ({@link GitLabHooks}) make runner demands
 * ({@link GitLabStore}) for pending jobs with Kiln's tags, which the hooks lack and the Jobs API gives; each demand's
 * VM launches with a runner made for it ({@link GitLabRunners}), which takes that job and exits. The server drives it
 * by its clock:
 * <ul>
 *   <li>clean-up, every tick: hooks stored but not processed (the server stopped, GitLab's API failed) are processed
 *       again; demands whose runner VM ended since their job was last heard of, and whose hooks did not follow within
 *       a grace, get GitLab's status of it (a lost hook costs seconds, not a reconcile interval); runners whose VM
 *       ended are deleted from GitLab;</li>
 *   <li>reconciliation, at start and every reconcile interval: the pending jobs of every configured project (and of
 *       every project of the configured groups) with Kiln's tags that have no demand get one (a lost hook is caught);
 *       demands whose job has not been heard of for an interval get GitLab's status; old hooks are pruned.</li>
 * </ul>
 */
public final class GitLabProvider implements Provider {
    private static final Logger log = LoggerFactory.getLogger(GitLabProvider.class);
    private static final Duration REPROCESS_AFTER = Duration.ofSeconds(30);
    /** How long after a runner VM's end its job's hooks may still come, before GitLab is asked how the job ended. */
    static final Duration HOOK_GRACE = Duration.ofSeconds(10);

    private final GitLabSettings settings;
    private final GitLabConfig config;
    private final GitLabClient gitlab;
    private final GitLabStore store;
    private final GitLabRunners runners;
    private final GitLabHooks hooks;
    private final dev.kiln.server.WebhookOutcomes outcomes;
    private final ExecutorService work = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("kiln-gitlab-hook-", 0).factory());

    public GitLabProvider(GitLabSettings settings, ProviderContext context) {
        this.settings = requireNonNull(settings, "settings is null");
        requireNonNull(context, "context is null");
        this.config = settings.config();
        this.gitlab = settings.client();
        Duration runnerTimeout = settings.runnerTimeout().compareTo(context.maxTimeout()) > 0 ? context.maxTimeout() : settings.runnerTimeout();
        this.store = new GitLabStore(context.db(), context.clock(), context.labels(),
                () -> context.imageDigests().apply(settings.runnerImage()), runnerTimeout);
        this.runners = new GitLabRunners(context.db(), gitlab, config.runnerUrl(), config.token(), context.clock());
        this.outcomes = context.webhookOutcomes();
        this.hooks = new GitLabHooks(new HookVerifier(config.webhookSecret()), store, this::process, work,
                outcome -> outcomes.count(GitLabStore.KIND, outcome));
    }

    public static Provider.Factory factory(GitLabSettings settings) {
        requireNonNull(settings, "settings is null");
        return context -> new GitLabProvider(settings, context);
    }

    /** The factory to start a server with: none when GitLab is not configured (null settings). */
    public static List<Provider.Factory> factories(GitLabSettings settings) {
        return settings == null ? List.of() : List.of(factory(settings));
    }

    @Override
    public String kind() {
        return GitLabStore.KIND;
    }

    @Override
    public List<dev.kiln.api.JobView> describe(dev.kiln.server.Tx tx, List<dev.kiln.api.JobView> jobs) throws java.sql.SQLException {
        return GitLabStore.describe(tx, jobs, config.url().toString().replaceFirst("/+$", ""));
    }

    @Override
    public dev.kiln.server.ApiUse apiUse() {
        List<dev.kiln.server.ApiUse.Calls> calls = new java.util.ArrayList<>();
        gitlab.callsByStatus().forEach((call, count) ->
                calls.add(new dev.kiln.server.ApiUse.Calls(call.route(), call.status(), count)));
        return new dev.kiln.server.ApiUse(calls, gitlab.rateLimit().map(l -> List.of(
                new dev.kiln.server.ApiUse.Limit("token", l.remaining(), l.limit()))).orElse(List.of()));
    }

    @Override
    public Map<String, HttpHandler> intake() {
        return Map.of(GitLabHooks.PATH, hooks);
    }

    @Override
    public Set<String> issueCredentials(List<String> vmIds) {
        return runners.ensureAll(vmIds);
    }

    @Override
    public String openCredential(String sealed) {
        return runners.open(sealed);
    }

    @Override
    public Optional<String> unavailable() {
        return runners.unavailable().map(problem -> "GitLab is unavailable (" + problem + ")");
    }

    @Override
    public Timing timing() {
        return new Timing(settings.tick(), settings.reconcileInterval(), settings.launchDeadline());
    }

    @Override
    public void cleanUp() {
        step("processing stored hooks", () -> store.unprocessed(REPROCESS_AFTER, 100).forEach(h -> process(h.id(), h.event(), h.body())));
        step("asking GitLab how the jobs of ended runner VMs ended", () -> store.endedUnheard(HOOK_GRACE, 50).forEach(open -> ask(open, false)));
        step("deleting the runners of ended VMs", () -> runners.deleteEnded(50));
    }

    @Override
    public void reconcile() {
        step("reconciling with GitLab's pending jobs", this::reconcilePending);
        step("asking GitLab about jobs not heard of", this::reconcileQuiet);
        step("pruning old hooks", () -> store.prune(settings.hookRetention(), 10_000));
    }

    @Override
    public void close() {
        work.shutdown();
        try {
            if (!work.awaitTermination(10, TimeUnit.SECONDS)) {
                work.shutdownNow();
            }
        } catch (InterruptedException e) {
            work.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** Acts on a stored hook; a failure (GitLab's API, the store) leaves it unprocessed for the clean-up to retry. */
    void process(String id, String event, byte[] body) {
        String outcome;
        try {
            outcome = switch (JobHooks.read(event, body)) {
                case JobHooks.Ignored ignored -> "ignored: " + ignored.reason();
                case JobHooks.Job job -> apply(job.hook());
            };
        } catch (KilnException e) {
            if (e.code() == dev.kiln.core.ErrorCode.INVALID_ARGUMENT) {
                store.processed(id, "refused: " + e.getMessage());
                outcomes.count(GitLabStore.KIND, dev.kiln.server.WebhookOutcomes.Outcome.INVALID);
                log.info("GitLab hook {} is stored but refused: {}", id, e.getMessage());
            } else {
                log.warn("GitLab hook {} is stored but could not be processed: {}; it will be retried", id, e.getMessage());
            }
            return;
        } catch (RuntimeException e) {
            log.error("GitLab hook {} is stored but processing it failed unexpectedly; it will be retried", id, e);
            return;
        }
        store.processed(id, outcome);
        outcomes.count(GitLabStore.KIND, outcome.startsWith("ignored") ? dev.kiln.server.WebhookOutcomes.Outcome.IGNORED
                : dev.kiln.server.WebhookOutcomes.Outcome.ACCEPTED);
        log.debug("GitLab hook {}: {}", id, outcome);
    }

    private String apply(JobHook hook) {
        if (hook.projectPath() == null || !config.serves(hook.projectPath())) {
            return "ignored: project " + (hook.projectPath() == null ? hook.projectId() + " (no path in the hook)" : hook.projectPath())
                    + " is not one the GitLab config serves";
        }
        if (hook.pending()) {
            if (store.known(hook.buildId())) {
                return "job " + hook.buildId() + " has a demand already";
            }
            // Job Hooks carry no tags: the Jobs API has them.
            GitLabJob job = gitlab.job(hook.projectId(), hook.buildId());
            return job.status().equals("pending") ? store.demand(job, hook.projectPath())
                    : "job " + hook.buildId() + " is " + job.status() + " already; no demand";
        }
        if (hook.status().equals("running")) {
            return hook.runnerId() == null ? "job " + hook.buildId() + " runs on no runner the hook names"
                    : store.took(hook.buildId(), hook.runnerId());
        }
        if (hook.finished()) {
            return store.finished(hook.buildId(), hook.status(), hook.runnerId());
        }
        return "ignored: job " + hook.buildId() + " is " + hook.status();
    }

    /** Every pending job with Kiln's tags in the served projects gets its demand, if it has none. */
    private void reconcilePending() {
        Set<String> projects = new LinkedHashSet<>(config.projects());
        for (String group : config.groups()) {
            projects.addAll(gitlab.projectsOf(group).stream().map(p -> p.toLowerCase(java.util.Locale.ROOT)).toList());
        }
        int made = 0;
        for (String project : projects) {
            for (GitLabJob job : gitlab.pendingJobs(project)) {
                if (!store.known(job.id())) {
                    String outcome = store.demand(job, project);
                    if (outcome.contains(": demand ")) {
                        made++;
                        log.info("reconcile: {} (its hook never came)", outcome);
                    }
                }
            }
        }
        if (made > 0) {
            log.info("reconcile: {} demand(s) made for pending GitLab jobs without one", made);
        }
    }

    /**
     * Demands whose GitLab job was not heard of for a reconcile interval: GitLab says how the job their runner took
     * ended (a lost hook), or that its runner took it (a lost {@code running} hook); a demand whose VM ended while
     * its runner took nothing fails, saying so (its runner is deleted by then, so nothing will take the job for it).
     */
    private void reconcileQuiet() {
        for (GitLabStore.Open open : store.quiet(settings.reconcileInterval(), 200)) {
            ask(open, true);
        }
    }

    /**
     * Asks GitLab about an open demand's job (the one its runner took, else the one it was made for) and records what
     * the lost hooks would have said. Only a quiet demand ({@code quiet}) may fail as stranded: right after its VM's end
     * a hook saying that its runner took another job may still be on its way, and the quiet reconcile asks again.
     */
    private void ask(GitLabStore.Open open, boolean quiet) {
        long asked = open.tookJob() != null ? open.tookJob() : open.gitlabJob();
        GitLabJob job = gitlab.job(open.projectId(), asked);
        switch (job.status()) {
            case "success", "failed", "canceled", "skipped" -> log.info("reconcile: {}", store.finished(job.id(), job.status(), job.runnerId()));
            case "running" -> {
                if (job.runnerId() != null && open.tookJob() == null) {
                    log.info("reconcile: {}", store.took(job.id(), job.runnerId()));
                }
                store.heard(open.gitlabJob());
            }
            default -> {
                if (quiet) {
                    store.stranded(open, job.status());
                }
            }
        }
        if (!quiet) {
            store.heard(open.gitlabJob()); // whatever GitLab said: this VM's end is asked about once
        }
    }

    private void step(String what, Runnable action) {
        try {
            action.run();
        } catch (KilnException e) {
            log.warn("{} failed: {}", what, e.getMessage());
        } catch (RuntimeException e) {
            log.error("{} failed unexpectedly", what, e);
        }
    }
}
