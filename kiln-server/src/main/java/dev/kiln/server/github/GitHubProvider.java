package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.JobView;
import dev.kiln.api.VmState;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.core.SizeLabels;
import dev.kiln.github.DeleteOutcome;
import dev.kiln.github.GitHubApiException;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.Installation;
import dev.kiln.github.Repository;
import dev.kiln.github.Runner;
import dev.kiln.github.RunnerScope;
import dev.kiln.github.WebhookEvent;
import dev.kiln.github.WebhookEvents;
import dev.kiln.github.WebhookException;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.github.WorkflowJob;
import dev.kiln.github.WorkflowJobEvent;
import dev.kiln.server.Database;
import dev.kiln.server.Jobs;
import dev.kiln.server.Provider;
import dev.kiln.server.ProviderContext;
import dev.kiln.server.Tx;
import dev.kiln.server.Vms;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GitHub as a {@link Provider}: a GitHub App whose {@code workflow_job} webhooks ({@code /webhooks/github},
 * {@link WebhookHandler}) make runner demands ({@link GitHubStore}), each VM launching with a JIT runner
 * ({@link RunnerLaunches}). The server drives it by its clock:
 * <ul>
 *   <li>clean-up, every tick: deliveries stored but not processed (the server stopped, or processing failed) are
 *       processed again; a runner that took no job within the idle timeout, or whose demand went away or ended, is
 *       deleted from GitHub (left alone when GitHub says it is busy) and its VM stopped;</li>
 *   <li>reconciliation, at start and every reconcile interval: GitHub's queued jobs with Kiln's labels in every
 *       installed repository that have no demand get one (a dropped webhook is caught); demands whose runner VM
 *       exited without a {@code completed} webhook get GitHub's conclusion ({@link LostCompletions}); Kiln runners
 *       on GitHub whose VM is gone are deleted; stored deliveries older than the retention (14 days by default)
 *       are removed.</li>
 * </ul>
 */
public final class GitHubProvider implements Provider {
    private static final Logger log = LoggerFactory.getLogger(GitHubProvider.class);
    private static final Pattern KILN_RUNNER = Pattern.compile("kiln-(vm-[0-9a-f]{1,36})");
    private static final Duration REPROCESS_AFTER = Duration.ofSeconds(30);

    private final Database db;
    private final GitHubApp github;
    private final GitHubStore store;
    private final WebhookHandler webhooks;
    private final RunnerLaunches runners;
    private final SizeLabels labels;
    private final InstantSource clock;
    private final GitHubSettings settings;
    private final LostCompletions lostCompletions;
    /** Busy runners are asked about again only after this (by VM id); touched by the provider's loop only. */
    private final java.util.Map<String, Instant> busyUntil = new java.util.HashMap<>();

    /** Serves the App of {@code settings} with the server's store, clock and images. */
    public GitHubProvider(GitHubSettings settings, ProviderContext context) {
        this.settings = requireNonNull(settings, "settings is null");
        requireNonNull(context, "context is null");
        this.db = context.db();
        this.github = settings.app();
        this.labels = context.labels();
        this.clock = context.clock();
        Duration runnerTimeout = settings.runnerTimeout().compareTo(context.maxTimeout()) > 0 ? context.maxTimeout()
                : settings.runnerTimeout();
        this.store = new GitHubStore(db, clock, labels, github.config(),
                () -> context.imageDigests().apply(settings.runnerImage()), runnerTimeout);
        this.webhooks = new WebhookHandler(new WebhookVerifier(github.config().webhookSecret()), context.webhookMemory(),
                store, github.config().appId(), outcome -> context.webhookOutcomes().count(GitHubStore.KIND, outcome));
        this.runners = new RunnerLaunches(db, github, clock, context.debugShells());
        this.lostCompletions = new LostCompletions(db, github, store, clock);
    }

    /** The provider for the App of {@code settings}, made when the server has its store. */
    public static Provider.Factory factory(GitHubSettings settings) {
        requireNonNull(settings, "settings is null");
        return context -> new GitHubProvider(settings, context);
    }

    /** The providers of a server that serves GitHub with {@code settings}, or none when they are null. */
    public static List<Provider.Factory> factories(GitHubSettings settings) {
        return settings == null ? List.of() : List.of(factory(settings));
    }

    /** Its store of deliveries, GitHub jobs and demands (for tests on the store's clock). */
    GitHubStore store() {
        return store;
    }

    @Override
    public String kind() {
        return GitHubStore.KIND;
    }

    @Override
    public dev.kiln.server.ApiUse apiUse() {
        List<dev.kiln.server.ApiUse.Calls> calls = new java.util.ArrayList<>();
        github.apiCallsByStatus().forEach((call, count) ->
                calls.add(new dev.kiln.server.ApiUse.Calls(call.route(), call.status(), count)));
        List<dev.kiln.server.ApiUse.Limit> limits = new java.util.ArrayList<>();
        github.rateLimits().forEach((credential, limit) ->
                limits.add(new dev.kiln.server.ApiUse.Limit(credential, limit.remaining(), limit.limit())));
        return new dev.kiln.server.ApiUse(calls, limits);
    }

    @Override
    public Map<String, HttpHandler> intake() {
        return Map.of("/webhooks/github", webhooks);
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
        return github.unavailable().map(u -> "GitHub is unavailable (" + u.lastProblem() + ")");
    }

    @Override
    public Timing timing() {
        return new Timing(settings.tick(), settings.reconcileInterval(), settings.launchDeadline());
    }

    @Override
    public List<JobView> describe(Tx tx, List<JobView> jobs) throws SQLException {
        return GitHubStore.describe(tx, jobs);
    }

    @Override
    public Map<String, Integer> orgCaps() {
        return github.config().orgCaps();
    }

    @Override
    public void cleanUp() {
        step("processing stored deliveries", this::reprocess);
        step("reaping idle runners", this::reap);
    }

    @Override
    public void reconcile() {
        step("reconciling with GitHub's queued jobs", this::reconcileQueued);
        step("asking GitHub for conclusions whose webhook never came", lostCompletions::run);
        step("removing runners without a VM", this::sweepOrphans);
        step("pruning old deliveries", this::prune);
    }

    private void step(String what, Runnable work) {
        try {
            work.run();
        } catch (KilnException e) {
            if (GitHubApiException.heldBack(e)) {
                log.debug("{} waits: {}", what, e.getMessage());
            } else {
                log.warn("{} failed: {}", what, e.getMessage());
            }
        } catch (RuntimeException e) {
            log.error("{} failed unexpectedly", what, e);
        }
    }

    void reprocess() {
        for (GitHubStore.Delivery d : store.unprocessed(REPROCESS_AFTER, 100)) {
            WebhookEvent event;
            try {
                event = WebhookEvents.parse(d.event(), d.id(), WebhookEvents.payload(d.contentType(), d.body()));
            } catch (WebhookException e) {
                store.processed(d.id(), "refused: " + e.getMessage());
                continue;
            }
            webhooks.process(event);
        }
    }

    /** Stored deliveries older than the retention go, a bounded batch per pass. */
    void prune() {
        int removed = store.prune(settings.deliveryRetention(), 10_000);
        if (removed > 0) {
            log.info("removed {} stored GitHub deliveries older than {} days", removed, settings.deliveryRetention().toDays());
        }
    }

    /** A registered runner that may have to go. */
    private record Idle(String vm, String job, long installationId, String scope, long runnerId, String name,
            boolean release) {}

    /** Runners that took no job in time, or whose demand went away (released, cancelled, failed), go. */
    void reap() {
        long idleBefore = clock.millis() - settings.idleTimeout().toMillis();
        List<Idle> idle = db.tx(tx -> tx.query("SELECT r.vm_id, r.job_id, r.installation_id, r.scope, r.runner_id, r.name,"
                        + " r.release, j.state FROM github_runners r JOIN jobs j ON j.id = r.job_id WHERE r.deleted = 0"
                        + " AND r.took_job IS NULL AND (r.release = 1 OR r.minted_at <= ? OR j.state IN (?, ?, ?, ?))",
                row -> new Idle(row.getString("vm_id"), row.getString("job_id"), row.getLong("installation_id"),
                        row.getString("scope"), row.getLong("runner_id"), row.getString("name"), row.getInt("release") == 1
                        || JobState.valueOf(row.getString("state")).terminal()),
                idleBefore, JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.LOST));
        busyUntil.values().removeIf(until -> !clock.instant().isBefore(until));
        for (Idle r : idle) {
            if (busyUntil.containsKey(r.vm())) {
                continue;
            }
            DeleteOutcome outcome = github.deleteRunner(r.installationId(), scope(r.scope()), r.runnerId());
            if (outcome == DeleteOutcome.BUSY) {
                log.info("job {}: runner {} is busy; left alone", r.job(), r.name());
                busyUntil.put(r.vm(), clock.instant().plus(Duration.ofMinutes(1)));
                continue;
            }
            String why = r.release() ? "its demand went away" : "it took no job within " + settings.idleTimeout().toMinutes() + " min";
            long now = clock.millis();
            db.tx(tx -> {
                tx.update("UPDATE github_runners SET deleted = 1 WHERE vm_id = ?", r.vm());
                boolean tookJob = tx.queryOne("SELECT took_job FROM github_runners WHERE vm_id = ?",
                        row -> row.getObject(1) != null, r.vm()).orElse(false);
                if (!tookJob) {
                    stop(tx, r, "runner " + r.name() + " removed from GitHub: " + why, now);
                }
                return null;
            });
            log.info("job {}: runner {} removed from GitHub ({}) and VM {} stopped", r.job(), r.name(), why, r.vm());
        }
    }

    private static void stop(Tx tx, Idle r, String why, long now) throws SQLException {
        Vms.stop(tx, r.vm(), now);
        Jobs.move(tx, r.job(), new JobChange.Cancelled("the reaper", why), now);
    }

    /** Queued jobs with Kiln's labels on GitHub that Kiln has no demand for get one. */
    void reconcileQueued() {
        int created = 0;
        for (Installation installation : github.installations()) {
            if (installation.suspended()) {
                continue;
            }
            for (Repository repo : github.repositories(installation.id())) {
                if (!github.config().allows(repo.owner(), repo.name())) {
                    continue;
                }
                for (WorkflowJob job : github.queuedJobs(installation.id(), repo.owner(), repo.name())) {
                    if (!isKilns(job.labels())) {
                        continue;
                    }
                    String outcome = store.apply(job.asEvent("reconciler", WorkflowJobEvent.Action.QUEUED, repo.id(),
                            installation.isOrganization() ? repo.owner() : null, installation.id()));
                    if (outcome.contains("queued: demand")) {
                        created++;
                        log.info("reconciler: {} (its queued webhook never came)", outcome);
                    }
                }
            }
        }
        if (created > 0) {
            log.info("reconciler made {} missing demand(s)", created);
        }
    }

    /** Kiln's labels, valid or not: a job with invalid ones gets its one failed demand that says why. */
    private boolean isKilns(List<String> jobLabels) {
        try {
            return labels.sizeOf(jobLabels).isPresent();
        } catch (KilnException e) {
            return true;
        }
    }

    /** Kiln's runners on GitHub whose VM does not hold room any more are deleted (unless busy). */
    void sweepOrphans() {
        long since = clock.millis() - Duration.ofDays(2).toMillis();
        record Scope(long installationId, String scope) {}
        List<Scope> scopes = db.tx(tx -> tx.query("SELECT DISTINCT installation_id, scope FROM github_runners WHERE minted_at >= ?",
                row -> new Scope(row.getLong(1), row.getString(2)), since));
        for (Scope s : scopes) {
            for (Runner runner : github.runners(s.installationId(), scope(s.scope()), Optional.empty())) {
                var m = KILN_RUNNER.matcher(runner.name());
                if (!m.matches() || runner.busy()) {
                    continue;
                }
                String vm = m.group(1);
                boolean live = db.tx(tx -> Vms.live(tx, vm));
                if (!live && github.deleteRunner(s.installationId(), scope(s.scope()), runner.id()) != DeleteOutcome.BUSY) {
                    db.tx(tx -> tx.update("UPDATE github_runners SET deleted = 1 WHERE name = ?", runner.name()));
                    log.info("runner {} in {} had no VM; removed from GitHub", runner.name(), s.scope());
                }
            }
        }
    }

    private static RunnerScope scope(String text) {
        int slash = text.indexOf('/');
        return slash < 0 ? RunnerScope.org(text) : RunnerScope.repo(text.substring(0, slash), text.substring(slash + 1));
    }
}
