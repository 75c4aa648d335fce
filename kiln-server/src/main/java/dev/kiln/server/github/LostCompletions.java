package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import dev.kiln.github.GitHubApiException;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.WorkflowJob;
import dev.kiln.github.WorkflowJobEvent;
import dev.kiln.server.Database;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Demands whose runner VM exited but whose {@code completed} webhook never came (GitHub does not redeliver)
 * would stay RUNNING for ever: the runner's exit code says nothing of the job (ci-protocols.md §5.2). Once
 * the VM has been gone a while, the job its runner took (from the {@code in_progress} webhook, else the
 * demand's own job when GitHub names Kiln's runner on it) is looked up on GitHub, and its conclusion is
 * applied as the lost delivery would have been. A job GitHub has not concluded yet is asked about again
 * at the next round.
 */
final class LostCompletions {
    private static final Logger log = LoggerFactory.getLogger(LostCompletions.class);
    /** Deliveries lag by seconds, sometimes minutes: only after this is a VM's demand looked up. */
    static final Duration SILENT_AFTER = Duration.ofMinutes(1);

    private final Database db;
    private final GitHubApp github;
    private final GitHubStore store;
    private final InstantSource clock;

    LostCompletions(Database db, GitHubApp github, GitHubStore store, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.github = requireNonNull(github, "github is null");
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** A RUNNING demand whose runner VM exited, and the GitHub job to ask about. */
    private record Silent(String demand, String runner, long ghJob, boolean ran, long installationId, String owner,
            String repo) {}

    void run() {
        long before = clock.millis() - SILENT_AFTER.toMillis();
        List<Silent> silent = db.tx(tx -> tx.query("SELECT j.id, r.name, g.id AS gh_job, d.ran_job_id, g.installation_id,"
                        + " g.owner, g.repo FROM jobs j JOIN vms v ON v.id = j.vm JOIN github_runners r ON r.vm_id = v.id"
                        + " JOIN github_demands d ON d.job_id = j.id JOIN github_jobs g ON g.id = COALESCE(d.ran_job_id, d.gh_job_id)"
                        + " WHERE j.kind = ? AND j.state = ? AND v.state = ? AND v.updated_at <= ? AND g.installation_id IS NOT NULL",
                row -> {
                    row.getLong("ran_job_id");
                    boolean ran = !row.wasNull();
                    return new Silent(row.getString("id"), row.getString("name"), row.getLong("gh_job"), ran,
                            row.getLong("installation_id"), row.getString("owner"), row.getString("repo"));
                },
                GitHubStore.KIND, JobState.RUNNING, VmState.EXITED, before));
        for (Silent s : silent) {
            WorkflowJob job;
            try {
                job = github.job(s.installationId(), s.owner(), s.repo(), s.ghJob());
            } catch (GitHubApiException e) {
                if (GitHubApiException.heldBack(e)) {
                    throw e; // GitHub is failing: the others wait for the next round too
                }
                log.warn("job {}: cannot ask GitHub about job {} of {}/{}: {}", s.demand(), s.ghJob(), s.owner(), s.repo(),
                        e.getMessage());
                continue;
            }
            if (!job.status().equals("completed")) {
                continue;
            }
            if (!s.ran() && !s.runner().equals(job.runnerName())) {
                // Kiln's runner took some other job, which Kiln cannot name: the reaper ends the demand.
                continue;
            }
            // The in_progress webhook named Kiln's runner on the job it took; that stands whatever GitHub shows now.
            WorkflowJob taken = new WorkflowJob(job.id(), job.runId(), job.owner(), job.repo(), job.name(), job.status(),
                    job.conclusion(), job.labels(), job.runnerId(), s.runner(), job.createdAt());
            String outcome = store.apply(taken.asEvent("reconciler", WorkflowJobEvent.Action.COMPLETED, 0, null,
                    s.installationId()));
            log.info("job {}: its completed webhook never came; GitHub says: {}", s.demand(), outcome);
        }
    }
}
