package dev.kiln.server.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.core.Size;
import dev.kiln.core.SizeLabels;
import dev.kiln.gitlab.GitLabJob;
import dev.kiln.server.Database;
import dev.kiln.server.Jobs;
import dev.kiln.server.NewJob;
import dev.kiln.server.StoredJson;
import dev.kiln.server.Tx;
import dev.kiln.server.Vms;
import java.sql.SQLException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GitLab's side of the store: hooks (kept before they are answered, deduplicated by their key), the GitLab jobs
 * with Kiln's tags and the one demand each made (a Kiln job of kind {@code gitlab}), and the runners made for the
 * demands' VMs. A demand's result is GitLab's status of the job its runner took.
 */
final class GitLabStore {
    private static final Logger log = LoggerFactory.getLogger(GitLabStore.class);
    static final String KIND = "gitlab";

    /** A stored hook waiting to be processed. */
    record Hook(String id, String event, byte[] body) {}

    /** A demand not yet ended, with the GitLab job it was made for and the one its runner took, if any. */
    record Open(String demand, long gitlabJob, long projectId, Long tookJob) {}

    private final Database db;
    private final InstantSource clock;
    private final SizeLabels labels;
    private final Supplier<String> runnerImage;
    private final Duration runnerTimeout;

    GitLabStore(Database db, InstantSource clock, SizeLabels labels, Supplier<String> runnerImage, Duration runnerTimeout) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.labels = requireNonNull(labels, "labels is null");
        this.runnerImage = requireNonNull(runnerImage, "runnerImage is null");
        this.runnerTimeout = requireNonNull(runnerTimeout, "runnerTimeout is null");
    }

    /** Keeps a verified hook as it came; false when one with this key was kept before (a retry or a duplicate). */
    boolean store(String id, String event, byte[] body) {
        long now = clock.millis();
        // A body that is not UTF-8 text is not a Job Hook (it is refused as it is read); kept readable anyway.
        String text = new String(body, UTF_8).replace('\0', '\uFFFD');
        return db.tx(tx -> tx.update("INSERT INTO gitlab_hooks (id, event, body, received_at) VALUES (?, ?, ?, ?)"
                + " ON CONFLICT (id) DO NOTHING", id, event.length() > 100 ? event.substring(0, 100) : event, text, now) == 1);
    }

    void processed(String id, String outcome) {
        long now = clock.millis();
        db.tx(tx -> tx.update("UPDATE gitlab_hooks SET processed_at = ?, outcome = ? WHERE id = ?", now,
                outcome.length() > 1000 ? outcome.substring(0, 1000) : outcome, id));
    }

    /** Hooks kept but not processed (the server stopped, or processing failed), older than {@code age}. */
    List<Hook> unprocessed(Duration age, int limit) {
        long before = clock.millis() - age.toMillis();
        return db.tx(tx -> tx.query("SELECT id, event, body FROM gitlab_hooks WHERE processed_at IS NULL AND received_at <= ?"
                + " ORDER BY received_at LIMIT ?", row -> new Hook(row.getString("id"), row.getString("event"),
                row.getString("body").getBytes(UTF_8)), before, limit));
    }

    int prune(Duration age, int limit) {
        long before = clock.millis() - age.toMillis();
        return db.tx(tx -> tx.update("DELETE FROM gitlab_hooks WHERE id IN (SELECT id FROM gitlab_hooks WHERE received_at < ?"
                + " ORDER BY received_at LIMIT ?)", before, limit));
    }

    /** Whether the GitLab job has had its demand already (so that no API call is made for it again). */
    boolean known(long gitlabJob) {
        return db.tx(tx -> tx.queryOne("SELECT 1 FROM gitlab_jobs WHERE id = ?", row -> 1, gitlabJob).isPresent());
    }

    /**
     * One demand for a pending GitLab job with Kiln's tags, whatever became of an earlier one; a job whose Kiln tags
     * name no size Kiln can run gets one failed demand that says why. {@code project} is the job's project path.
     */
    String demand(GitLabJob job, String project) {
        Size size;
        String invalid = null;
        try {
            Optional<Size> asked = labels.sizeOf(job.tags());
            if (asked.isEmpty()) {
                return "ignored: tags " + job.tags() + " are not Kiln's";
            }
            size = asked.get();
        } catch (KilnException bad) {
            size = null;
            invalid = bad.getMessage();
        }
        Size wanted = size;
        String problem = invalid;
        long now = clock.millis();
        String what = "GitLab job " + job.id() + " (" + project + ", " + job.name() + ", " + job.tags() + ")";
        return db.tx(tx -> {
            // The row first, so that of two replicas making the job's demand at once (both reconciling, a hook at each)
            // one inserts and the other waits for it and finds it: a SELECT … FOR UPDATE locks no row that is not there
            // yet, and a unique violation would fail the whole reconcile pass.
            String placeholder = "making-" + job.id();
            if (tx.update("INSERT INTO gitlab_jobs (id, project_id, project, name, tags, status, demand, created_at, updated_at,"
                            + " pipeline_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", job.id(),
                    job.projectId(), project, shorten(job.name(), 255), StoredJson.write(job.tags()), job.status(), placeholder,
                    now, now, job.pipelineId()) == 0) {
                return "job " + job.id() + " has demand " + tx.queryOne("SELECT demand FROM gitlab_jobs WHERE id = ?",
                        row -> row.getString(1), job.id()).orElseThrow() + " already";
            }
            int slash = project.indexOf('/');
            String id = Jobs.create(tx, NewJob.demand(KIND, runnerImage.get(), wanted, runnerTimeout,
                    slash < 0 ? project : project.substring(0, slash), project, job.tags()), "{}", "runner demand for " + what, now);
            tx.update("UPDATE gitlab_jobs SET demand = ? WHERE id = ?", id, job.id());
            if (problem != null) {
                String why = "no runner for " + what + ": " + problem + "; GitLab keeps the job pending until it is canceled"
                        + " or its tags are fixed";
                Jobs.move(tx, id, JobState.QUEUED, new JobChange.Rejected(ErrorCode.INVALID_LABEL, why), now);
                log.info("job {}: {}", id, why);
                return "ignored: job " + job.id() + " has invalid Kiln tags: " + problem + " (recorded as failed demand " + id + ")";
            }
            log.info("job {}: runner demand for GitLab job {} of {} ({})", id, job.id(), project, wanted);
            return "job " + job.id() + " pending: demand " + id;
        });
    }

    /** A Kiln runner took the job (a Job Hook's {@code runner.id}): recorded, and its demand runs. */
    String took(long gitlabJob, long runnerId) {
        long now = clock.millis();
        return db.tx(tx -> {
            Optional<String[]> runner = tx.queryOne("SELECT vm_id, demand FROM gitlab_runners WHERE runner_id = ?" + tx.dialect().forUpdate(),
                    row -> new String[] {row.getString(1), row.getString(2)}, runnerId);
            status(tx, gitlabJob, "running", now);
            if (runner.isEmpty()) {
                return release(tx, gitlabJob, "runs on runner " + runnerId + ", not one of Kiln's", now);
            }
            String vm = runner.get()[0];
            String demand = runner.get()[1];
            tx.update("UPDATE gitlab_runners SET took_job = ? WHERE vm_id = ? AND took_job IS NULL", gitlabJob, vm);
            handOver(tx, demand, gitlabJob, now);
            String took = "runner " + runnerId + " (VM " + vm + " on " + Vms.hostOf(tx, vm).orElse("?") + ") took GitLab job " + gitlabJob;
            Optional<JobState> state = Jobs.state(tx, demand);
            if (state.isPresent() && state.get() == JobState.RUNNING) {
                Jobs.note(tx, demand, took, now);
            } else if (state.isPresent() && !state.get().terminal()) {
                Jobs.move(tx, demand, state.get(), new JobChange.Started(took), now);
            }
            return "job " + gitlabJob + ": " + took + " for demand " + demand;
        });
    }

    /**
     * GitLab hands a runner any pending job of its project whose tags it carries, not the job its demand was made for:
     * when demand {@code demand}'s runner took {@code took}, that job becomes the demand's, and the job the demand was
     * made for takes over {@code took}'s demand if that one's runner has not taken a job yet; otherwise it is left
     * without a demand, and the next reconcile gives it one (else it would stay pending on GitLab with none).
     */
    private static void handOver(Tx tx, String demand, long took, long now) throws SQLException {
        Optional<Long> own = tx.queryOne("SELECT id FROM gitlab_jobs WHERE demand = ?" + tx.dialect().forUpdate(), row -> row.getLong(1), demand);
        if (own.isEmpty() || own.get() == took) {
            return;
        }
        Optional<String> other = tx.queryOne("SELECT demand FROM gitlab_jobs WHERE id = ?" + tx.dialect().forUpdate(), row -> row.getString(1), took);
        if (other.isEmpty()) {
            // The job taken had no demand (its hook was lost): the row moves to it, and the demand's own job has none.
            tx.update("UPDATE gitlab_jobs SET id = ?, status = ?, updated_at = ? WHERE demand = ?", took, "running", now, demand);
            log.info("job {}: its runner took GitLab job {} (which had no demand); GitLab job {} waits for the reconcile to give it one",
                    demand, took, own.get());
            return;
        }
        // Swap the two jobs' demands (demand is unique: through a placeholder).
        tx.update("UPDATE gitlab_jobs SET demand = ? WHERE id = ?", "swapping-" + took, took);
        tx.update("UPDATE gitlab_jobs SET demand = ? WHERE id = ?", other.get(), own.get());
        tx.update("UPDATE gitlab_jobs SET demand = ? WHERE id = ?", demand, took);
        boolean otherFree = Jobs.state(tx, other.get()).map(st -> !st.terminal()).orElse(false)
                && tx.queryOne("SELECT 1 FROM gitlab_runners WHERE demand = ? AND took_job IS NOT NULL", row -> 1, other.get()).isEmpty();
        if (!otherFree) {
            tx.update("DELETE FROM gitlab_jobs WHERE id = ?", own.get());
            log.info("job {}: its runner took GitLab job {}; GitLab job {} waits for the reconcile to give it a demand", demand, took, own.get());
        } else {
            log.info("job {}: its runner took GitLab job {}, whose demand {} now serves GitLab job {}", demand, took, other.get(), own.get());
        }
    }

    /**
     * GitLab ended the job ({@code success}, {@code failed}, {@code canceled}, {@code skipped}): the demand whose
     * runner took it concludes with GitLab's status; a job that no Kiln runner took releases its own demand.
     */
    String finished(long gitlabJob, String status, Long runnerId) {
        long now = clock.millis();
        return db.tx(tx -> {
            status(tx, gitlabJob, status, now);
            Optional<String> demand = tx.queryOne("SELECT demand FROM gitlab_runners WHERE took_job = ?" + tx.dialect().forUpdate(),
                    row -> row.getString(1), gitlabJob);
            if (demand.isEmpty() && runnerId != null) {
                demand = tx.queryOne("SELECT demand FROM gitlab_runners WHERE runner_id = ?", row -> row.getString(1), runnerId);
                if (demand.isPresent() && tx.update("UPDATE gitlab_runners SET took_job = ? WHERE runner_id = ? AND took_job IS NULL",
                        gitlabJob, runnerId) == 1) {
                    // The 'running' hook was lost: what it would have done to the demands' jobs is done now. Else the
                    // job this demand was made for stays another demand's, whose questions about it name this runner
                    // and never conclude that demand.
                    handOver(tx, demand.get(), gitlabJob, now);
                }
            }
            if (demand.isPresent()) {
                JobState result = switch (status) {
                    case "success" -> JobState.SUCCEEDED;
                    case "canceled", "skipped" -> JobState.CANCELLED;
                    default -> JobState.FAILED;
                };
                Jobs.move(tx, demand.get(), new JobChange.Concluded(result, "GitLab job " + gitlabJob + " " + status), now);
                return "job " + gitlabJob + " " + status + ": demand " + demand.get() + " concluded";
            }
            return release(tx, gitlabJob, status + " before a Kiln runner took it", now);
        });
    }

    /** The job's demand, if it has no runner that took a job yet, is cancelled and its VM stopped (the clean-up deletes its runner). */
    private String release(Tx tx, long gitlabJob, String happened, long now) throws SQLException {
        Optional<String> demand = tx.queryOne("SELECT demand FROM gitlab_jobs WHERE id = ?", row -> row.getString(1), gitlabJob);
        if (demand.isEmpty()) {
            return "job " + gitlabJob + " " + happened + "; it has no demand";
        }
        Optional<Long> took = tx.queryOne("SELECT COALESCE(r.took_job, -1) FROM gitlab_runners r WHERE r.demand = ?",
                row -> row.getLong(1), demand.get());
        if (took.isPresent() && took.get() >= 0) {
            return "job " + gitlabJob + " " + happened + "; its demand's runner took job " + took.get();
        }
        Optional<JobState> state = Jobs.state(tx, demand.get());
        if (state.isEmpty() || state.get().terminal()) {
            return "job " + gitlabJob + " " + happened + "; demand " + demand.get() + " had ended";
        }
        Jobs.move(tx, demand.get(), state.get(), new JobChange.Cancelled(KIND, "GitLab job " + gitlabJob + " " + happened + "; released"), now);
        Optional<String> vm = tx.queryOne("SELECT vm FROM jobs WHERE id = ? AND vm IS NOT NULL", row -> row.getString(1), demand.get());
        if (vm.isPresent()) {
            Vms.stop(tx, vm.get(), now);
        }
        log.info("job {}: GitLab job {} {}; released", demand.get(), gitlabJob, happened);
        return "job " + gitlabJob + " " + happened + ": demand " + demand.get() + " released";
    }

    private static void status(Tx tx, long gitlabJob, String status, long now) throws SQLException {
        // Hooks and the reconcile's questions cross: a late 'running' hook must not undo the job's end already heard of.
        String unlessEnded = status.equals("running") ? " AND status NOT IN ('success', 'failed', 'canceled', 'skipped')" : "";
        tx.update("UPDATE gitlab_jobs SET status = ?, updated_at = ? WHERE id = ?" + unlessEnded, status, now, gitlabJob);
    }

    /** Demands not ended whose GitLab job was last heard of before {@code quietFor}: the reconcile asks GitLab. */
    List<Open> quiet(Duration quietFor, int limit) {
        long before = clock.millis() - quietFor.toMillis();
        return db.tx(tx -> tx.query("SELECT g.demand, g.id, g.project_id, r.took_job FROM gitlab_jobs g JOIN jobs j ON j.id = g.demand"
                        + " LEFT JOIN gitlab_runners r ON r.demand = g.demand WHERE j.state IN (?, ?, ?, ?) AND g.updated_at <= ?"
                        + " ORDER BY g.updated_at LIMIT ?",
                GitLabStore::open, JobState.QUEUED, JobState.SCHEDULED, JobState.STARTING, JobState.RUNNING, before, limit));
    }

    /**
     * Demands not ended whose runner VM ended {@code grace} ago or more, after their GitLab job was last heard of:
     * GitLab's runner reports its job's end before it exits, so GitLab knows how it ended by the time the VM's end is
     * reported, and the clean-up asks then rather than once the demand has been quiet for a reconcile interval (a lost
     * hook cost up to two). The grace lets the hooks on their way come first (no request when they do). Asking marks
     * the job heard of, so each VM's end costs one request at most.
     */
    List<Open> endedUnheard(Duration grace, int limit) {
        long before = clock.millis() - grace.toMillis();
        return db.tx(tx -> tx.query("SELECT g.demand, g.id, g.project_id, r.took_job FROM gitlab_jobs g JOIN jobs j ON j.id = g.demand"
                        + " JOIN vms v ON v.id = j.vm LEFT JOIN gitlab_runners r ON r.vm_id = v.id WHERE j.state IN (?, ?, ?, ?)"
                        + " AND v.state IN (?, ?, ?) AND g.updated_at < v.updated_at AND v.updated_at <= ? ORDER BY v.updated_at LIMIT ?",
                GitLabStore::open, JobState.QUEUED, JobState.SCHEDULED, JobState.STARTING, JobState.RUNNING,
                VmState.EXITED, VmState.FAILED, VmState.LOST, before, limit));
    }

    private static Open open(java.sql.ResultSet row) throws SQLException {
        long took = row.getLong("took_job");
        Long tookJob = row.wasNull() ? null : took; // read first: wasNull speaks of the last column read
        return new Open(row.getString("demand"), row.getLong("id"), row.getLong("project_id"), tookJob);
    }

    /**
     * GitLab still has the demand's job {@code status} (pending, say): if the demand's VM has ended and its runner
     * took no job, nothing will take the job for this demand any more, and it fails saying so; otherwise the job
     * was looked at now.
     */
    void stranded(Open open, String status) {
        long now = clock.millis();
        db.tx(tx -> {
            tx.update("UPDATE gitlab_jobs SET updated_at = ? WHERE id = ?", now, open.gitlabJob());
            Optional<String> vm = tx.queryOne("SELECT vm FROM jobs WHERE id = ? AND vm IS NOT NULL", row -> row.getString(1), open.demand());
            // Read again, locked: since the demand was listed its runner may have taken a job (another one, even).
            boolean tookOne = open.tookJob() != null || tx.queryOne("SELECT 1 FROM gitlab_runners WHERE demand = ? AND took_job IS NOT NULL"
                    + tx.dialect().forUpdate(), row -> 1, open.demand()).isPresent();
            if (vm.isEmpty() || Vms.live(tx, vm.get()) || tookOne) {
                return null;
            }
            String why = "its runner VM " + vm.get() + " ended without taking a job; GitLab has job " + open.gitlabJob() + " " + status;
            if (Jobs.move(tx, open.demand(), new JobChange.Concluded(JobState.FAILED, why), now).moved()) {
                log.warn("job {}: {}", open.demand(), why);
            }
            return null;
        });
    }

    /** Marks that the GitLab job was looked at now (its status unchanged). */
    void heard(long gitlabJob) {
        long now = clock.millis();
        db.tx(tx -> tx.update("UPDATE gitlab_jobs SET updated_at = ? WHERE id = ?", now, gitlabJob));
    }

    /** The GitLab side of these views of its demands, read in one query; {@code webUrl} is the instance links start from. */
    static List<dev.kiln.api.JobView> describe(Tx tx, List<dev.kiln.api.JobView> demands, String webUrl) throws SQLException {
        if (demands.isEmpty()) {
            return demands;
        }
        java.util.Map<String, dev.kiln.api.JobView.GitLabJob> sides = new java.util.HashMap<>();
        String marks = String.join(", ", java.util.Collections.nCopies(demands.size(), "?"));
        tx.query("SELECT demand, id, project_id, project, pipeline_id, name, status FROM gitlab_jobs WHERE demand IN ("
                + marks + ")", row -> {
                    long pipeline = row.getLong("pipeline_id");
                    Long pipelineId = row.wasNull() ? null : pipeline;
                    return sides.put(row.getString("demand"), new dev.kiln.api.JobView.GitLabJob(row.getLong("id"),
                            row.getLong("project_id"), row.getString("project"), pipelineId, row.getString("name"),
                            row.getString("status"), webUrl));
                }, demands.stream().map(dev.kiln.api.JobView::id).toArray());
        return demands.stream().map(v -> v.withGitLab(sides.get(v.id()))).toList();
    }

    private static String shorten(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max);
    }
}
