package dev.kiln.server;

import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.JobView;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A CI provider (GitHub, GitLab): where runner demands come from, in a room of its own. The scheduler, the job
 * store and the sync with agents know a provider only through this interface and the {@code kind} of its jobs;
 * a provider knows the server only through {@link Database}, {@link Jobs} (its jobs' creation and every change of
 * their state), {@link LaunchCredentials} (the runner credential a launch carries) and {@link ProviderContext}.
 *
 * <p>What a provider does:
 * <ul>
 *   <li><b>intake of demands</b> ({@link #intake}): its webhooks, stored before they are answered, each queued
 *       provider job with Kiln's labels becoming one demand: a job of the provider's {@link #kind} made by
 *       {@link Jobs#create} ({@link NewJob#demand}), which the scheduler places like any other;</li>
 *   <li><b>a runner credential for a launch</b> ({@link #issueCredentials}): once a demand's VM is reserved on a
 *       host and the host's sync wants its launch, the provider registers a one-job runner for it and stores the
 *       credential sealed ({@link LaunchCredentials#store}); {@link #openCredential} opens it for each launch;</li>
 *   <li><b>the outcome</b>: a runner VM's exit code says nothing of the job it ran, so when its VM has exited the
 *       demand stays RUNNING until the provider concludes it ({@code JobChange.Concluded} through {@link Jobs#move}),
 *       from a webhook or from {@link #reconcile}; a VM that failed to boot or crashed fails the demand (the sync
 *       does that);</li>
 *   <li><b>reconciliation</b> ({@link #reconcile}) against the provider's own view: queued jobs whose webhook was
 *       lost get their demand, jobs that ended without a word get their conclusion;</li>
 *   <li><b>clean-up of its runners</b> ({@link #cleanUp}): runners that took no job in time, whose demand went
 *       away or whose VM is gone are removed from the provider (and their VMs stopped).</li>
 * </ul>
 * The server calls {@link #cleanUp} every {@link Timing#tick} and {@link #reconcile} at start and every
 * {@link Timing#reconcileInterval}, on one thread per provider, by its injected clock; it withdraws a launch
 * whose credential could not be had within {@link Timing#launchDeadline} (saying {@link #unavailable}) and queues
 * its demand again after a backoff. Implementations are thread-safe: intake runs on request threads, credentials
 * on sync threads.
 */
public interface Provider extends AutoCloseable {
    /** The {@code kind} of this provider's jobs in the store ({@code github}, {@code gitlab}); also its name in logs. */
    String kind();

    /** The HTTP endpoints its webhooks reach, by path (e.g. {@code /webhooks/github}), served on the server's listener. */
    Map<String, HttpHandler> intake();

    /**
     * Registers a runner for each of these VMs of its jobs that has none (each reserved on a host, its launch
     * waiting for a credential) and stores each credential with {@link LaunchCredentials#store}; says which of the
     * VMs have a credential now. Called outside any transaction (it calls the provider), possibly for the same VMs
     * from several syncs or replicas at once: {@link LaunchCredentials#claim} makes one of them register. A VM whose
     * registration fails for now is left out (a later sync asks again); one the provider refuses for good fails its
     * demand ({@code JobChange.Rejected}).
     */
    Set<String> issueCredentials(List<String> vmIds);

    /** The credential it stored sealed for a VM, opened for the VM's launch; null when it cannot be opened. */
    String openCredential(String sealed);

    /**
     * Why credentials cannot be had now, in words a withdrawn launch's detail shows ("GitHub is unavailable (HTTP
     * 502 …)"), or empty when the provider answers.
     */
    Optional<String> unavailable();

    /** Compares the provider's own view with Kiln's and mends what webhooks missed (demands, conclusions). */
    void reconcile();

    /** Removes its runners that have no more use (idle, released, VM gone) and does its periodic housekeeping. */
    void cleanUp();

    /** How often the server drives it. */
    Timing timing();

    /**
     * Its side of its jobs as the API shows them (for GitHub: the workflow job, the runner, the conclusion): {@code jobs}
     * are views of its jobs from the store's {@code jobs} table; answers the same jobs, each with what it adds, read in
     * {@code tx} (one query for all of them: a listing holds up to a thousand). By default the views as they are.
     */
    default List<JobView> describe(Tx tx, List<JobView> jobs) throws SQLException {
        return jobs;
    }

    /**
     * Limits on how many of an owner's jobs hold room at once, by owner (org-cap in GitHub's config); the scheduler
     * applies the lower of these and its own.
     */
    default Map<String, Integer> orgCaps() {
        return Map.of();
    }

    /** Its requests to the provider's API so far and the rate limits last told, for {@code /metrics}; none by default. */
    default ApiUse apiUse() {
        return ApiUse.NONE;
    }

    /** Stops what it runs of its own (none by default: the server drives its loop). */
    @Override
    default void close() {}

    /**
     * @param tick how often {@link #cleanUp} runs
     * @param reconcileInterval how often {@link #reconcile} runs (also at start)
     * @param launchDeadline a reserved VM whose credential could not be had this long after its reservation gives
     *     its room back, and its demand is queued again after a backoff
     */
    record Timing(Duration tick, Duration reconcileInterval, Duration launchDeadline) {
        public Timing {
            for (Duration d : new Duration[] {tick, reconcileInterval, launchDeadline}) {
                if (d == null || d.isNegative() || d.isZero()) {
                    throw new IllegalArgumentException("a provider's timings must be positive: tick " + tick
                            + ", reconcileInterval " + reconcileInterval + ", launchDeadline " + launchDeadline);
                }
            }
        }
    }

    /** Makes a provider once the server has its store: what {@code KilnServer.start} is given. */
    @FunctionalInterface
    interface Factory {
        Provider create(ProviderContext context);
    }
}
