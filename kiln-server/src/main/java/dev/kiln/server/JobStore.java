package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.JobEvent;
import dev.kiln.api.JobState;
import dev.kiln.api.JobView;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Jobs: submitted, listed, read with their timelines, cancelled. Every transition is an event. */
final class JobStore {
    static final ObjectMapper JSON = new ObjectMapper();
    private static final String COLUMNS = "id, seq, state, command, env, image, cpus, memory_mib, disk_gib, arch,"
            + " timeout_s, org, repo, priority, host, vm, exit_code, error_code, detail, queued_at, created_at, updated_at";
    /** A job with its GitHub side: the workflow job that ran on its runner (else the one it was made for) and the runner. */
    static final String VIEW = "SELECT j.id, j.seq, j.state, j.command, j.env, j.image, j.cpus, j.memory_mib, j.disk_gib,"
            + " j.arch, j.timeout_s, j.org, j.repo, j.priority, j.host, j.vm, j.exit_code, j.error_code, j.detail,"
            + " j.queued_at, j.created_at, j.updated_at, j.kind, j.gh_job_id, j.gh_ran_job_id, j.gh_conclusion,"
            + " g.run_id AS g_run_id, g.installation_id AS g_installation_id, g.owner AS g_owner, g.repo AS g_repo,"
            + " g.workflow AS g_workflow, g.name AS g_name, g.labels AS g_labels, g.started_at AS g_started_at,"
            + " g.completed_at AS g_completed_at, r.name AS r_name"
            + " FROM jobs j LEFT JOIN github_jobs g ON g.id = COALESCE(j.gh_ran_job_id, j.gh_job_id)"
            + " LEFT JOIN github_runners r ON r.vm_id = j.vm";

    private final Database db;
    private final InstantSource clock;
    private final EnvSeal envs;

    /** @param envs seals each job's environment before it is stored (its values are secrets) */
    JobStore(Database db, InstantSource clock, EnvSeal envs) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.envs = requireNonNull(envs, "envs is null");
    }

    JobView submit(NewJob job) {
        String id = Tokens.newId("j-");
        long now = clock.millis();
        return db.tx(tx -> {
            long seq = tx.queryLong("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs");
            tx.update("INSERT INTO jobs (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL,"
                            + " NULL, NULL, NULL, ?, ?, ?)",
                    id, seq, JobState.QUEUED, json(job.command()), envs.seal(job.env()), job.image(), job.size().vcpus(),
                    job.size().memoryMib(), job.size().diskGib(), job.size().arch().id(), job.timeout().toSeconds(),
                    job.org(), job.repo(), job.priority(), now, now, now);
            event(tx, id, JobState.QUEUED, null, now);
            tx.signal(Signals.SCHEDULE);
            return find(tx, id, true).orElseThrow();
        });
    }

    List<JobView> list(JobState state, int limit) {
        return db.read(tx -> state == null
                ? tx.query(VIEW + " ORDER BY j.created_at DESC, j.seq DESC LIMIT ?", row -> view(row, List.of()), limit)
                : tx.query(VIEW + " WHERE j.state = ? ORDER BY j.created_at DESC, j.seq DESC LIMIT ?",
                        row -> view(row, List.of()), state, limit));
    }

    Optional<JobView> find(String id) {
        return db.snapshot(tx -> find(tx, id, true));
    }

    JobView get(String id) {
        return find(id).orElseThrow(() -> notFound(id));
    }

    /**
     * Cancels a job: a queued one at once; one on a host is marked CANCELLED and its VM STOPPING, so the
     * agent stops it and its room is freed when the agent reports it gone.
     */
    JobView cancel(String id) {
        long now = clock.millis();
        return db.tx(tx -> {
            JobView job = tx.queryOne("SELECT " + COLUMNS + " FROM jobs WHERE id = ?" + tx.dialect().forUpdate(),
                    row -> plainView(row, List.of()), id).orElseThrow(() -> notFound(id));
            if (job.state() == JobState.CANCELLED) {
                return find(tx, id, true).orElseThrow();
            }
            if (job.state().terminal()) {
                throw new KilnException(ErrorCode.CONFLICT, "job " + id + " has already ended (" + job.state()
                        + "); there is nothing to cancel");
            }
            if (job.vm() != null) {
                int stopping = tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ? AND state IN (?, ?, ?)",
                        VmState.STOPPING, now, job.vm(), VmState.PENDING, VmState.BOOTING, VmState.RUNNING);
                if (stopping > 0) {
                    tx.desiredChanged(job.host());
                }
            }
            tx.update("UPDATE github_runners SET release = 1 WHERE vm_id = ?", job.vm());
            transition(tx, id, JobState.CANCELLED, "cancelled by request", now);
            tx.update("UPDATE jobs SET error_code = ? WHERE id = ?", ErrorCode.CANCELLED, id);
            return find(tx, id, true).orElseThrow();
        });
    }

    static Optional<JobView> find(Tx tx, String id, boolean withTimeline) throws SQLException {
        List<JobEvent> timeline = withTimeline
                ? tx.query("SELECT state, at, detail FROM job_events WHERE job_id = ? ORDER BY n",
                        row -> new JobEvent(JobState.valueOf(row.getString("state")),
                                Instant.ofEpochMilli(row.getLong("at")).toString(), row.getString("detail")), id)
                : List.of();
        return tx.queryOne(VIEW + " WHERE j.id = ?", row -> view(row, timeline), id);
    }

    /** Moves a job to a state and records the step in its timeline. */
    static void transition(Tx tx, String jobId, JobState state, String detail, long now) throws SQLException {
        tx.update("UPDATE jobs SET state = ?, updated_at = ? WHERE id = ?", state, now, jobId);
        event(tx, jobId, state, detail, now);
    }

    static void event(Tx tx, String jobId, JobState state, String detail, long now) throws SQLException {
        long n = tx.queryLong("SELECT COALESCE(MAX(n), 0) + 1 FROM job_events WHERE job_id = ?", jobId);
        tx.update("INSERT INTO job_events (job_id, n, state, at, detail) VALUES (?, ?, ?, ?, ?)",
                jobId, n, state, now, detail);
        tx.signal(Signals.job(jobId));
    }

    /** A row of {@link #VIEW}. */
    static JobView view(ResultSet row, List<JobEvent> timeline) throws SQLException {
        JobView plain = plainView(row, timeline);
        String kind = row.getString("kind");
        if (!"github".equals(kind)) {
            return plain;
        }
        long ghJob = row.getLong("gh_job_id");
        long ranJob = row.getLong("gh_ran_job_id");
        Long ran = row.wasNull() ? null : ranJob;
        long installation = row.getLong("g_installation_id");
        Long installationId = row.wasNull() ? null : installation;
        String owner = row.getString("g_owner");
        JobView.GitHubJob github = new JobView.GitHubJob(ghJob, row.getLong("g_run_id"), installationId,
                owner == null ? null : owner + "/" + row.getString("g_repo"), row.getString("g_workflow"),
                row.getString("g_name"), row.getString("g_labels") == null ? List.of()
                        : read(row.getString("g_labels"), new TypeReference<List<String>>() {}),
                row.getString("r_name"), ran, row.getString("gh_conclusion"), Tx.instantOrNull(row, "g_started_at"),
                Tx.instantOrNull(row, "g_completed_at"));
        return new JobView(plain.id(), plain.state(), plain.command(), plain.image(), plain.cpus(), plain.memoryMib(),
                plain.diskGib(), plain.arch(), plain.org(), plain.repo(), plain.priority(), plain.host(), plain.vm(),
                plain.exitCode(), plain.errorCode(), plain.detail(), plain.createdAt(), plain.updatedAt(), timeline,
                kind, github);
    }

    /** A row of {@code jobs} alone. */
    static JobView plainView(ResultSet row, List<JobEvent> timeline) throws SQLException {
        return new JobView(row.getString("id"), JobState.valueOf(row.getString("state")),
                read(row.getString("command"), new TypeReference<List<String>>() {}), row.getString("image"),
                row.getInt("cpus"), row.getLong("memory_mib"), row.getInt("disk_gib"), row.getString("arch"),
                row.getString("org"), row.getString("repo"), row.getInt("priority"), row.getString("host"),
                row.getString("vm"), Tx.intOrNull(row, "exit_code"), row.getString("error_code"),
                row.getString("detail"), Tx.instantOrNull(row, "created_at"), Tx.instantOrNull(row, "updated_at"),
                timeline);
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static <T> T read(String json, TypeReference<T> type) {
        try {
            return JSON.readValue(json, type);
        } catch (JsonProcessingException e) {
            throw new KilnException(ErrorCode.INTERNAL, "a stored job has unreadable JSON: " + e.getOriginalMessage(), e);
        }
    }

    static KilnException notFound(String id) {
        return new KilnException(ErrorCode.NOT_FOUND, "no job " + id + "; `kiln jobs` lists them");
    }
}
