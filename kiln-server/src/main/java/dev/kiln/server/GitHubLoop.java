package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.JobState;
import dev.kiln.api.VmState;
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
import dev.kiln.github.WorkflowJob;
import dev.kiln.github.WorkflowJobEvent;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GitHub housekeeping on one thread, timed by the injected clock (the thread only wakes every tick to
 * look at it):
 * <ul>
 *   <li>the reaper, every tick: a runner that took no job within the idle timeout, or whose demand went
 *       away, is deleted from GitHub (left alone when GitHub says it is busy) and its VM stopped;</li>
 *   <li>the reconciler, at start and every reconcile interval: GitHub's queued jobs with Kiln's labels in
 *       every installed repository that have no demand get one (a dropped webhook is caught), and Kiln
 *       runners on GitHub whose VM is gone are deleted;</li>
 *   <li>with the reconciler: demands whose runner VM exited without a {@code completed} webhook get GitHub's
 *       conclusion ({@link LostCompletions});</li>
 *   <li>deliveries stored but not processed (the server stopped, or processing failed) are processed again;</li>
 *   <li>every tick: runner VMs that got no runner within the launch deadline give their room back
 *       ({@link StalledLaunches});</li>
 *   <li>with the reconciler: stored deliveries older than the retention (14 days by default) are removed.</li>
 * </ul>
 */
final class GitHubLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(GitHubLoop.class);
    private static final Pattern KILN_RUNNER = Pattern.compile("kiln-(vm-[0-9a-f]{1,36})");
    private static final Duration REPROCESS_AFTER = Duration.ofSeconds(30);

    private final Database db;
    private final GitHubApp github;
    private final GitHubStore store;
    private final WebhookHandler webhooks;
    private final SizeLabels labels;
    private final InstantSource clock;
    private final GitHubSettings settings;
    private final LostCompletions lostCompletions;
    private final StalledLaunches stalledLaunches;
    private final BackgroundLoop loop;
    private Instant nextReconcile;
    /** Busy runners are asked about again only after this (by VM id); touched by the loop's thread only. */
    private final java.util.Map<String, Instant> busyUntil = new java.util.HashMap<>();

    GitHubLoop(Database db, GitHubSettings settings, GitHubStore store, WebhookHandler webhooks, SizeLabels labels,
            InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.settings = requireNonNull(settings, "settings is null");
        this.github = settings.app();
        this.store = requireNonNull(store, "store is null");
        this.webhooks = requireNonNull(webhooks, "webhooks is null");
        this.labels = requireNonNull(labels, "labels is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.nextReconcile = clock.instant();
        this.lostCompletions = new LostCompletions(db, github, store, clock);
        this.stalledLaunches = new StalledLaunches(db, github, clock, settings.launchDeadline());
        this.loop = new BackgroundLoop("kiln-github", this::run);
    }

    void start() {
        loop.start();
    }

    private void run() {
        while (loop.running()) {
            step("processing stored deliveries", this::reprocess);
            step("reaping idle runners", this::reap);
            step("withdrawing runner VMs that got no runner in time", stalledLaunches::withdraw);
            if (!clock.instant().isBefore(nextReconcile)) {
                nextReconcile = clock.instant().plus(settings.reconcileInterval());
                step("reconciling with GitHub's queued jobs", this::reconcile);
                step("asking GitHub for conclusions whose webhook never came", lostCompletions::run);
                step("removing runners without a VM", this::sweepOrphans);
                step("pruning old deliveries", this::prune);
            }
            try {
                Thread.sleep(settings.tick());
            } catch (InterruptedException e) {
                return;
            }
        }
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

    void reap() {
        long idleBefore = clock.millis() - settings.idleTimeout().toMillis();
        List<Idle> idle = db.tx(tx -> tx.query("SELECT vm_id, job_id, installation_id, scope, runner_id, name, release"
                        + " FROM github_runners WHERE deleted = 0 AND took_job IS NULL AND (release = 1 OR minted_at <= ?)",
                row -> new Idle(row.getString("vm_id"), row.getString("job_id"), row.getLong("installation_id"),
                        row.getString("scope"), row.getLong("runner_id"), row.getString("name"), row.getInt("release") == 1),
                idleBefore));
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
        Optional<String> host = tx.queryOne("SELECT host FROM vms WHERE id = ? AND state IN (?, ?, ?)", row -> row.getString(1),
                r.vm(), VmState.PENDING, VmState.BOOTING, VmState.RUNNING);
        if (host.isPresent()) {
            tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ?", VmState.STOPPING, now, r.vm());
            tx.desiredChanged(host.get());
        }
        JobState state = tx.queryOne("SELECT state FROM jobs WHERE id = ?", row -> JobState.valueOf(row.getString(1)), r.job())
                .orElse(JobState.CANCELLED);
        if (!state.terminal()) {
            tx.update("UPDATE jobs SET detail = ? WHERE id = ?", why, r.job());
            JobStore.transition(tx, r.job(), JobState.CANCELLED, why, now);
        }
    }

    /** Queued jobs with Kiln's labels on GitHub that Kiln has no demand for get one. */
    void reconcile() {
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
                boolean live = db.tx(tx -> tx.queryOne("SELECT state FROM vms WHERE id = ?", row -> row.getString(1), vm))
                        .map(state -> VmState.valueOf(state).holdsRoom() && !state.equals(VmState.STOPPING.name())).orElse(false);
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

    @Override
    public void close() {
        loop.close();
    }
}
