package dev.kiln.server;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobLife;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The only writer of a job's state, for the server and its providers alike. A job comes to be by
 * {@link #create} and changes state only by {@link #move}, which asks {@link JobLife} and writes the change
 * conditionally ({@code WHERE id = ? AND state = ?}), so that two replicas racing on one job cannot both win:
 * the loser sees the state that won and the change is asked again of it (a cancel that lost to a start still
 * cancels; an exit that lost to a cancel is refused). Every change is a step of the job's timeline, timestamped.
 */
public final class Jobs {
    private static final String COLUMNS = "id, seq, kind, state, command, env, image, cpus, memory_mib, disk_gib, arch,"
            + " timeout_s, org, repo, priority, queued_at, created_at, updated_at";
    /** A lost race is asked again of the state that won; states move forward, so a few rounds settle it. */
    private static final int MAX_ROUNDS = 8;

    private Jobs() {}

    /** What {@link #move} did. */
    public sealed interface Move {
        /** The job moved from {@code from} to {@code to}. */
        record Moved(JobState from, JobState to) implements Move {}

        /** The job is in {@code state} (null: there is no such job), where the change may not happen; nothing changed. */
        record Refused(JobState state, String message) implements Move {}

        default boolean moved() {
            return this instanceof Moved;
        }
    }

    /**
     * Stores a new QUEUED job (the one way a job comes to be) and says its id; its timeline starts with
     * {@code detail}. {@code sealedEnv} is the job's environment as the store keeps it ({@link EnvSeal}).
     */
    public static String create(Tx tx, NewJob job, String sealedEnv, String detail, long now) throws SQLException {
        JobState state = JobLife.require("(new)", null, new JobChange.Submitted(detail));
        String id = Tokens.newId("j-");
        long seq = tx.queryLong("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs");
        // A demand Kiln cannot size holds no room: it is stored with a size of 0 and rejected at once by its provider.
        tx.update("INSERT INTO jobs (" + COLUMNS + ", labels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                id, seq, job.kind(), state, JobStore.json(job.command()), sealedEnv, job.image(),
                job.size() == null ? 0 : job.size().vcpus(), job.size() == null ? 0 : job.size().memoryMib(),
                job.size() == null ? 0 : job.size().diskGib(), job.size() == null ? Arch.X86_64.id() : job.size().arch().id(),
                job.timeout().toSeconds(), job.org(), job.repo(), job.priority(), now, now, now, labels(job.labels()));
        event(tx, id, state, detail, now);
        tx.signal(Signals.SCHEDULE);
        return id;
    }

    /** {@code ,a,b,}: a comma on each side of every label, so that {@code LIKE '%,a,%'} finds a whole one. */
    static String labels(List<String> labels) {
        StringBuilder joined = new StringBuilder();
        for (String label : labels) {
            if (!label.contains(",") && joined.length() + label.length() < 1000) {
                joined.append(joined.isEmpty() ? "," : "").append(label).append(',');
            }
        }
        return joined.toString();
    }

    /** Moves the job by {@code change} from the state it is in now (read under a row lock). */
    public static Move move(Tx tx, String job, JobChange change, long now) throws SQLException {
        Optional<JobState> state = state(tx, job);
        if (state.isEmpty()) {
            return new Move.Refused(null, "no job " + job);
        }
        return move(tx, job, state.get(), change, now);
    }

    /**
     * Moves the job by {@code change} from {@code expected}, the state the caller read. The write holds only if the
     * job is still in that state; otherwise the change is asked again of the state it is in.
     */
    public static Move move(Tx tx, String job, JobState expected, JobChange change, long now) throws SQLException {
        JobState from = expected;
        for (int round = 0; round < MAX_ROUNDS; round++) {
            JobState to;
            switch (JobLife.next(from, change)) {
                case JobLife.Verdict.Refused r -> {
                    return new Move.Refused(from, "job " + job + ": " + r.message());
                }
                case JobLife.Verdict.Moves m -> to = m.to();
            }
            List<Object> args = new ArrayList<>(List.of(to, now));
            String set = columns(change, to, args);
            args.add(job);
            args.add(from);
            if (tx.update("UPDATE jobs SET state = ?, updated_at = ?" + set + " WHERE id = ? AND state = ?", args.toArray()) == 1) {
                event(tx, job, to, change.detail(), now);
                if (to == JobState.QUEUED || to.terminal()) {
                    tx.signal(Signals.SCHEDULE);
                }
                return new Move.Moved(from, to);
            }
            Optional<JobState> now2 = state(tx, job);
            if (now2.isEmpty()) {
                return new Move.Refused(null, "no job " + job);
            }
            from = now2.get();
        }
        throw new KilnException(ErrorCode.INTERNAL, "job " + job + " changed state " + MAX_ROUNDS + " times while "
                + change.getClass().getSimpleName() + " was applied to it; last seen " + from);
    }

    /** A step of the timeline that changes no state: why a job still waits, what happened to its runner. */
    public static void note(Tx tx, String job, String detail, long now) throws SQLException {
        Optional<JobState> state = state(tx, job);
        if (state.isPresent()) {
            event(tx, job, state.get(), detail, now);
        }
    }

    /** The job's state now, its row locked for the rest of the transaction on PostgreSQL. */
    public static Optional<JobState> state(Tx tx, String job) throws SQLException {
        return tx.queryOne("SELECT state FROM jobs WHERE id = ?" + tx.dialect().forUpdate(),
                row -> JobState.valueOf(row.getString(1)), job);
    }

    /** The other columns a change writes with the state: where it runs, its result, why. */
    private static String columns(JobChange change, JobState to, List<Object> args) {
        StringBuilder set = new StringBuilder();
        switch (change) {
            case JobChange.Placed p -> {
                // What the job waited for (its detail, its backoff) is over; its timeline keeps the story.
                set.append(", host = ?, vm = ?, detail = NULL, not_before = NULL");
                args.add(p.host());
                args.add(p.vm());
            }
            case JobChange.Requeued q -> {
                set.append(", host = NULL, vm = NULL, detail = ?");
                args.add(q.detail());
            }
            case JobChange.Exited e -> {
                set.append(", exit_code = ?, detail = ?");
                args.add(e.exitCode());
                args.add(e.detail());
            }
            case JobChange.Booting b -> { }
            case JobChange.Started s -> { }
            default -> {
                if (to.terminal()) {
                    set.append(", detail = ?");
                    args.add(change.detail());
                    if (change.errorCode() != null) {
                        set.append(", error_code = ?");
                        args.add(change.errorCode());
                    }
                }
            }
        }
        return set.toString();
    }

    private static void event(Tx tx, String job, JobState state, String detail, long now) throws SQLException {
        long n = tx.queryLong("SELECT COALESCE(MAX(n), 0) + 1 FROM job_events WHERE job_id = ?", job);
        tx.update("INSERT INTO job_events (job_id, n, state, at, detail) VALUES (?, ?, ?, ?, ?)", job, n, state, now, detail);
        tx.signal(Signals.job(job));
    }
}
