package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.api.JobView;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.core.Size;
import dev.kiln.core.SizeLabels;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.WorkflowJobEvent;
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
import java.util.Locale;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * GitHub's side of the store: deliveries (kept before they are answered, deduplicated by their
 * {@code X-GitHub-Delivery}), workflow jobs whose status only moves forward, and the runner demands
 * made from them. One queued job with Kiln's labels makes one demand: a Kiln job of kind {@code github}
 * that the scheduler places like any other; its result is GitHub's conclusion of the job its runner took.
 */
final class GitHubStore {
    private static final Logger log = LoggerFactory.getLogger(GitHubStore.class);
    static final String KIND = "github";
    private static final List<String> ORDER = List.of("waiting", "queued", "in_progress", "completed");

    /** The event stored for a verified delivery whose {@code X-GitHub-Event} names none (it is refused). */
    static final String NO_EVENT = "-";

    /** A stored delivery waiting to be processed: its body as it came, and its content type (null: JSON). */
    record Delivery(String id, String event, String contentType, byte[] body) {}

    private final Database db;
    private final InstantSource clock;
    private final SizeLabels labels;
    private final GitHubConfig config;
    private final Supplier<String> runnerImage;
    private final Duration runnerTimeout;

    GitHubStore(Database db, InstantSource clock, SizeLabels labels, GitHubConfig config, Supplier<String> runnerImage,
            Duration runnerTimeout) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.labels = requireNonNull(labels, "labels is null");
        this.config = requireNonNull(config, "config is null");
        this.runnerImage = requireNonNull(runnerImage, "runnerImage is null");
        this.runnerTimeout = requireNonNull(runnerTimeout, "runnerTimeout is null");
    }

    /**
     * Keeps a verified delivery as it came; false when one with this id was kept before (a redelivery or a
     * replay). A body that is not UTF-8 text, or holds a NUL (which PostgreSQL's text refuses), is kept in base64.
     */
    boolean store(String id, String event, String action, String contentType, byte[] body) {
        long now = clock.millis();
        String text = utf8(body);
        String stored = text != null ? text : java.util.Base64.getEncoder().encodeToString(body);
        return db.tx(tx -> tx.update("INSERT INTO github_deliveries (id, event, action, body, received_at, content_type,"
                        + " body_base64) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING", id, event,
                action == null ? null : shorten(action, 64), stored, now,
                contentType == null ? null : shorten(contentType, 128), text == null ? 1 : 0) == 1);
    }

    /** The body as text, or null when it is not UTF-8 or holds a NUL. */
    private static String utf8(byte[] body) {
        try {
            String text = java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(body)).toString();
            return text.indexOf('\0') >= 0 ? null : text;
        } catch (java.nio.charset.CharacterCodingException e) {
            return null;
        }
    }

    private static String shorten(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max);
    }

    void processed(String id, String outcome) {
        long now = clock.millis();
        db.tx(tx -> tx.update("UPDATE github_deliveries SET processed_at = ?, outcome = ? WHERE id = ?", now,
                outcome.length() > 1000 ? outcome.substring(0, 1000) : outcome, id));
    }

    /** Deliveries kept but not processed (the server stopped, or processing failed), older than {@code age}. */
    List<Delivery> unprocessed(Duration age, int limit) {
        long before = clock.millis() - age.toMillis();
        return db.tx(tx -> tx.query("SELECT id, event, content_type, body, body_base64 FROM github_deliveries"
                        + " WHERE processed_at IS NULL AND received_at <= ? ORDER BY received_at LIMIT ?",
                row -> new Delivery(row.getString("id"), row.getString("event"), row.getString("content_type"),
                        row.getInt("body_base64") == 1 ? java.util.Base64.getDecoder().decode(row.getString("body"))
                                : row.getString("body").getBytes(java.nio.charset.StandardCharsets.UTF_8)), before, limit));
    }

    /** Removes up to {@code limit} deliveries received more than {@code age} ago; says how many went. */
    int prune(Duration age, int limit) {
        long before = clock.millis() - age.toMillis();
        return db.tx(tx -> tx.update("DELETE FROM github_deliveries WHERE id IN (SELECT id FROM github_deliveries"
                + " WHERE received_at < ? ORDER BY received_at LIMIT ?)", before, limit));
    }

    /**
     * Applies a {@code workflow_job} event (from a webhook or the reconciler) and says what it did. Events
     * may come twice or out of order: a job's status never moves back, a demand is made only for a job that
     * is queued and has none active, and a runner's job is recorded whichever of in_progress and completed
     * comes first.
     */
    String apply(WorkflowJobEvent e) {
        if (e.installationId() == null) {
            return "ignored: not an App delivery (no installation)";
        }
        if (!config.allows(e.owner(), e.repo())) {
            return "ignored: " + e.repositoryFullName() + " is not allowed by the GitHub config";
        }
        Optional<Size> size;
        String invalid = null;
        try {
            size = labels.sizeOf(e.labels());
        } catch (KilnException bad) {
            // Kiln's label, but no size Kiln can run: recorded below as a failed demand, so operators see it.
            size = Optional.empty();
            invalid = bad.getMessage();
        }
        if (size.isEmpty() && invalid == null) {
            return "ignored: labels " + e.labels() + " are not Kiln's";
        }
        Size wanted = size.orElse(null);
        String labelProblem = invalid;
        long now = clock.millis();
        return db.tx(tx -> {
            tx.update("INSERT INTO github_jobs (id, run_id, installation_id, owner, repo, workflow, name, labels, status,"
                            + " created_at, updated_at, sender) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                    e.jobId(), e.runId(), e.installationId(), e.owner(), e.repo(), e.workflowName(), e.jobName(),
                    StoredJson.write(e.labels()), e.action().wireName(), e.createdAt() == null ? now : e.createdAt().toEpochMilli(), now,
                    e.sender());
            String stored = tx.queryOne("SELECT status FROM github_jobs WHERE id = ?" + tx.dialect().forUpdate(),
                    row -> row.getString(1), e.jobId()).orElseThrow();
            String status = rank(e.action().wireName()) > rank(stored) ? e.action().wireName() : stored;
            StringBuilder set = new StringBuilder("status = ?, updated_at = ?");
            List<Object> args = new java.util.ArrayList<>(List.of(status, now));
            boolean running = e.action() == WorkflowJobEvent.Action.IN_PROGRESS || e.action() == WorkflowJobEvent.Action.COMPLETED;
            if (e.workflowName() != null) {
                set.append(", workflow = COALESCE(workflow, ?)");
                args.add(e.workflowName());
            }
            if (e.conclusion() != null) {
                set.append(", conclusion = COALESCE(conclusion, ?)");
                args.add(e.conclusion());
            }
            if (e.sender() != null) {
                // Who triggered the run: the webhooks' sender (a reconciler's event knows none).
                set.append(", sender = COALESCE(sender, ?)");
                args.add(e.sender());
            }
            if (e.runnerName() != null) {
                set.append(", runner_name = COALESCE(runner_name, ?)");
                args.add(e.runnerName());
            }
            if (running && e.startedAt() != null) {
                set.append(", started_at = ?");
                args.add(e.startedAt().toEpochMilli());
            }
            if (e.completedAt() != null) {
                set.append(", completed_at = COALESCE(completed_at, ?)");
                args.add(e.completedAt().toEpochMilli());
            }
            args.add(e.jobId());
            tx.update("UPDATE github_jobs SET " + set + " WHERE id = ?", args.toArray());
            return switch (e.action()) {
                case WAITING -> "job " + e.jobId() + " waits for approval";
                case QUEUED -> status.equals("queued") ? demand(tx, e, wanted, labelProblem, now)
                        : "job " + e.jobId() + " is " + status + " already; no demand";
                case IN_PROGRESS -> ran(tx, e, now);
                case COMPLETED -> completed(tx, e, now);
            };
        });
    }

    /**
     * One demand per GitHub job while GitHub says it is queued: whatever became of an earlier one (waiting for
     * a host, failed, cancelled), none is made again, so that a job no host can hold, or one whose runner GitHub
     * refused, does not make a new demand every reconcile period. A job whose Kiln labels name no size Kiln can
     * run ({@code invalid}) gets one failed demand that says why.
     */
    private String demand(Tx tx, WorkflowJobEvent e, Size size, String invalid, long now) throws SQLException {
        Optional<String> existing = tx.queryOne("SELECT j.id, j.state FROM github_demands d JOIN jobs j ON j.id = d.job_id WHERE d.gh_job_id = ?"
                        + " ORDER BY j.seq DESC",
                row -> row.getString("id") + " (" + row.getString("state") + ")", e.jobId());
        if (existing.isPresent()) {
            return "job " + e.jobId() + " has demand " + existing.get() + " already";
        }
        String what = "GitHub job " + e.jobId() + " (" + e.repositoryFullName() + ", "
                + (e.workflowName() == null ? "" : e.workflowName() + " / ") + e.jobName() + ", " + e.labels() + ")";
        String id = Jobs.create(tx, NewJob.demand(KIND, runnerImage.get(), size, runnerTimeout, e.owner(),
                e.repositoryFullName(), e.labels()), "{}", "runner demand for " + what, now);
        tx.update("INSERT INTO github_demands (job_id, gh_job_id) VALUES (?, ?)", id, e.jobId());
        if (invalid != null) {
            String why = "no runner for " + what + ": " + invalid + "; GitHub keeps the job queued until it is cancelled"
                    + " or its labels are fixed";
            Jobs.move(tx, id, JobState.QUEUED, new JobChange.Rejected(ErrorCode.INVALID_LABEL, why), now);
            log.info("job {}: {}", id, why);
            return "ignored: job " + e.jobId() + " has invalid Kiln labels: " + invalid + " (recorded as failed demand " + id + ")";
        }
        log.info("job {}: runner demand for GitHub job {} of {} ({})", id, e.jobId(), e.repositoryFullName(), size);
        return "job " + e.jobId() + " queued: demand " + id;
    }

    /**
     * The demands with their GitHub side: the workflow job that ran on the demand's runner (else the one it was made
     * for), the runner, GitHub's conclusion; read in one query.
     */
    static List<JobView> describe(Tx tx, List<JobView> demands) throws SQLException {
        if (demands.isEmpty()) {
            return demands;
        }
        java.util.Map<String, JobView.GitHubJob> sides = new java.util.HashMap<>();
        String marks = String.join(", ", java.util.Collections.nCopies(demands.size(), "?"));
        tx.query("SELECT d.job_id, d.gh_job_id, d.ran_job_id, d.conclusion, g.run_id, g.installation_id, g.owner, g.repo,"
                        + " g.workflow, g.name, g.labels, g.started_at, g.completed_at, r.name AS r_name FROM github_demands d"
                        + " JOIN jobs j ON j.id = d.job_id LEFT JOIN github_jobs g ON g.id = COALESCE(d.ran_job_id, d.gh_job_id)"
                        + " LEFT JOIN github_runners r ON r.vm_id = j.vm WHERE d.job_id IN (" + marks + ")",
                row -> {
                    long ranJob = row.getLong("ran_job_id");
                    Long ran = row.wasNull() ? null : ranJob;
                    long installation = row.getLong("installation_id");
                    Long installationId = row.wasNull() ? null : installation;
                    String owner = row.getString("owner");
                    sides.put(row.getString("job_id"), new JobView.GitHubJob(row.getLong("gh_job_id"), row.getLong("run_id"),
                            installationId, owner == null ? null : owner + "/" + row.getString("repo"),
                            row.getString("workflow"), row.getString("name"), row.getString("labels") == null ? List.of()
                                    : StoredJson.read(row.getString("labels"), new TypeReference<List<String>>() {}),
                            row.getString("r_name"), ran, row.getString("conclusion"), Tx.instantOrNull(row, "started_at"),
                            Tx.instantOrNull(row, "completed_at")));
                    return null;
                }, demands.stream().map(JobView::id).toArray());
        return demands.stream().map(v -> v.withGitHub(sides.get(v.id()))).toList();
    }

    /** The runner that took the job, if it is one of Kiln's: its VM and demand. */
    private record OurRunner(String vm, String job, JobState state, Long tookJob) {}

    private Optional<OurRunner> runner(Tx tx, String name) throws SQLException {
        if (name == null) {
            return Optional.empty();
        }
        return tx.queryOne("SELECT r.vm_id, r.job_id, j.state, r.took_job FROM github_runners r JOIN jobs j ON j.id = r.job_id"
                        + " WHERE r.name = ?" + tx.dialect().forUpdate(),
                row -> {
                    long took = row.getLong("took_job");
                    return new OurRunner(row.getString("vm_id"), row.getString("job_id"),
                            JobState.valueOf(row.getString("state")), row.wasNull() ? null : took);
                }, name);
    }

    private String ran(Tx tx, WorkflowJobEvent e, long now) throws SQLException {
        Optional<OurRunner> found = runner(tx, e.runnerName());
        if (found.isEmpty()) {
            if (e.runnerName() == null) {
                return "job " + e.jobId() + " runs on an unnamed runner, not one of Kiln's";
            }
            // Another runner took the job: its demand would only mint a runner for a job that is gone.
            return release(tx, e.jobId(), "runs on runner " + e.runnerName() + ", not one of Kiln's", now);
        }
        OurRunner r = found.get();
        took(tx, r, e.jobId());
        String where = "runner " + e.runnerName() + " (VM " + r.vm() + " on " + Vms.hostOf(tx, r.vm()).orElse("?") + ")";
        String took = where + " took GitHub job " + e.jobId() + " (" + e.repositoryFullName() + ", " + e.jobName() + ")";
        if (r.state() == JobState.RUNNING) {
            Jobs.note(tx, r.job(), took, now); // the VM was reported up before the webhook came
        } else if (!r.state().terminal()) {
            Jobs.move(tx, r.job(), r.state(), new JobChange.Started(took), now);
        }
        return "job " + e.jobId() + " runs on " + where + " for demand " + r.job();
    }

    private String completed(Tx tx, WorkflowJobEvent e, long now) throws SQLException {
        Optional<OurRunner> found = runner(tx, e.runnerName());
        if (found.isPresent()) {
            OurRunner r = found.get();
            took(tx, r, e.jobId());
            tx.update("UPDATE github_demands SET conclusion = COALESCE(conclusion, ?) WHERE job_id = ?", e.conclusion(), r.job());
            if (!r.state().terminal()) {
                conclude(tx, r.job(), e.jobId(), e.conclusion(), now);
            }
            return "job " + e.jobId() + " completed (" + e.conclusion() + ") on runner " + e.runnerName() + " of demand " + r.job();
        }
        if (e.runnerName() == null) {
            return release(tx, e.jobId(), (e.conclusion() == null ? "completed" : "was " + e.conclusion())
                    + " before a runner took it", now);
        }
        return release(tx, e.jobId(), "completed (" + e.conclusion() + ") on runner " + e.runnerName()
                + ", not one of Kiln's", now);
    }

    private static void took(Tx tx, OurRunner r, long ghJob) throws SQLException {
        tx.update("UPDATE github_runners SET took_job = ? WHERE vm_id = ? AND took_job IS NULL", ghJob, r.vm());
        tx.update("UPDATE github_demands SET ran_job_id = ? WHERE job_id = ? AND ran_job_id IS NULL", ghJob, r.job());
    }

    /** The demand ends as GitHub concluded the job its runner took. */
    static void conclude(Tx tx, String job, long ghJob, String conclusion, long now) throws SQLException {
        String c = conclusion == null ? "unknown" : conclusion.toLowerCase(Locale.ROOT);
        JobState state = switch (c) {
            case "success", "neutral", "skipped" -> JobState.SUCCEEDED;
            case "cancelled" -> JobState.CANCELLED;
            default -> JobState.FAILED;
        };
        String detail = "GitHub job " + ghJob + " concluded " + c;
        tx.update("UPDATE github_demands SET conclusion = COALESCE(conclusion, ?) WHERE job_id = ?", c, job);
        Jobs.move(tx, job, new JobChange.Concluded(state, detail), now);
    }

    /**
     * The job went away from Kiln's runners: cancelled or skipped before pickup, or taken by a runner that is not
     * Kiln's. Its demands that have no runner yet end here (a scheduled VM is stopped, so no runner is minted
     * for it); one whose runner is registered but idle is marked for the reaper, which removes the runner unless
     * it is busy (it may have taken another job) and then stops its VM. A demand whose runner took another job
     * is left to that job.
     */
    private String release(Tx tx, long ghJob, String happened, long now) throws SQLException {
        record Demand(String id, JobState state, String vm, String host) {}
        List<Demand> demands = tx.query("SELECT j.id, j.state, j.vm, j.host FROM github_demands d JOIN jobs j ON j.id = d.job_id"
                        + " WHERE d.gh_job_id = ? AND j.state IN (?, ?, ?, ?)"
                        + tx.dialect().forUpdate(), row -> new Demand(row.getString("id"), JobState.valueOf(row.getString("state")),
                        row.getString("vm"), row.getString("host")),
                ghJob, JobState.QUEUED, JobState.SCHEDULED, JobState.STARTING, JobState.RUNNING);
        String why = "GitHub job " + ghJob + " " + happened;
        int released = 0;
        int marked = 0;
        for (Demand d : demands) {
            Optional<Long> runner = d.vm() == null ? Optional.empty()
                    : tx.queryOne("SELECT COALESCE(took_job, -1) FROM github_runners WHERE vm_id = ?", row -> row.getLong(1), d.vm());
            if (runner.isEmpty()) {
                if (!Jobs.move(tx, d.id(), d.state(), new JobChange.Cancelled(KIND, why + "; released"), now).moved()) {
                    continue;
                }
                if (d.vm() != null) {
                    Vms.stop(tx, d.vm(), now);
                }
                log.info("job {}: {}; released", d.id(), why);
                released++;
            } else if (runner.get() < 0) {
                tx.update("UPDATE github_runners SET release = 1 WHERE vm_id = ?", d.vm());
                Jobs.note(tx, d.id(), why + "; its idle runner is to be removed", now);
                log.info("job {}: {}; its idle runner is to be removed", d.id(), why);
                marked++;
            }
        }
        return "job " + ghJob + " " + happened + ": " + released + " demand(s) released, " + marked
                + " runner(s) to remove";
    }

    private static int rank(String status) {
        return ORDER.indexOf(status);
    }

}
