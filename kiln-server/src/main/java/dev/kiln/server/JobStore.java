package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.api.JobEvent;
import dev.kiln.api.JobView;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
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
    private static final String COLUMNS = "id, seq, state, command, env, image, cpus, memory_mib, disk_gib, arch,"
            + " timeout_s, org, repo, priority, host, vm, exit_code, error_code, detail, queued_at, created_at, updated_at";
    /** The digest its VM booted comes from the VM's row (a job's VM is its latest). */
    private static final String VIEW = "SELECT " + COLUMNS + ", kind,"
            + " (SELECT v.image_digest FROM vms v WHERE v.id = jobs.vm) AS image_digest FROM jobs";

    private final Database db;
    private final InstantSource clock;
    private final EnvSeal envs;
    private final Map<String, Provider> providers;

    JobStore(Database db, InstantSource clock, EnvSeal envs) {
        this(db, clock, envs, Map.of());
    }

    /**
     * @param envs seals each job's environment before it is stored (its values are secrets)
     * @param providers by the kind of their jobs: each adds its side to its jobs' views
     */
    JobStore(Database db, InstantSource clock, EnvSeal envs, Map<String, Provider> providers) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.envs = requireNonNull(envs, "envs is null");
        this.providers = Map.copyOf(providers);
    }

    JobView submit(NewJob job) {
        long now = clock.millis();
        return db.tx(tx -> {
            String id = Jobs.create(tx, job, envs.seal(job.env()), "submitted", now);
            return find(tx, id, true).orElseThrow();
        });
    }

    List<JobView> list(JobState state, int limit) {
        return db.read(tx -> described(tx, state == null
                ? tx.query(VIEW + " ORDER BY created_at DESC, seq DESC LIMIT ?", row -> plainView(row, List.of()), limit)
                : tx.query(VIEW + " WHERE state = ? ORDER BY created_at DESC, seq DESC LIMIT ?",
                        row -> plainView(row, List.of()), state, limit)));
    }

    /** The jobs of {@code ids} that exist, in that order, with their providers' sides and without timelines. */
    List<JobView> listed(List<String> ids) {
        if (ids.isEmpty()) {
            return List.of();
        }
        String marks = String.join(", ", java.util.Collections.nCopies(ids.size(), "?"));
        return db.read(tx -> {
            Map<String, JobView> byId = new java.util.HashMap<>();
            for (JobView view : described(tx, tx.query(VIEW + " WHERE id IN (" + marks + ")",
                    row -> plainView(row, List.of()), ids.toArray()))) {
                byId.put(view.id(), view);
            }
            return ids.stream().filter(byId::containsKey).map(byId::get).toList();
        });
    }

    /** The views with their providers' sides, in the same order; each provider reads its jobs at once. */
    private List<JobView> described(Tx tx, List<JobView> views) throws SQLException {
        Map<String, List<JobView>> byKind = new java.util.HashMap<>();
        for (JobView view : views) {
            if (providers.containsKey(view.kind())) {
                byKind.computeIfAbsent(view.kind(), k -> new java.util.ArrayList<>()).add(view);
            }
        }
        if (byKind.isEmpty()) {
            return views;
        }
        Map<String, JobView> described = new java.util.HashMap<>();
        for (Map.Entry<String, List<JobView>> kind : byKind.entrySet()) {
            List<JobView> theirs = providers.get(kind.getKey()).describe(tx, kind.getValue());
            theirs.forEach(view -> described.put(view.id(), view));
        }
        return views.stream().map(view -> described.getOrDefault(view.id(), view)).toList();
    }

    Optional<JobView> find(String id) {
        return db.snapshot(tx -> find(tx, id, true));
    }

    JobView get(String id) {
        return find(id).orElseThrow(() -> notFound(id));
    }

    /**
     * Cancels a job: a queued one at once; one on a host is marked CANCELLED and its VM STOPPING, so the
     * agent stops it and its room is freed when the agent reports it gone. A job that ended meanwhile (another
     * replica's report won) is refused with its state.
     */
    JobView cancel(String id) {
        long now = clock.millis();
        return db.tx(tx -> {
            JobView job = tx.queryOne(VIEW + " WHERE id = ?" + tx.dialect().forUpdate(),
                    row -> plainView(row, List.of()), id).orElseThrow(() -> notFound(id));
            if (job.state() == JobState.CANCELLED) {
                return find(tx, id, true).orElseThrow();
            }
            if (Jobs.move(tx, id, job.state(), new JobChange.Cancelled("request", "cancelled by request"), now)
                    instanceof Jobs.Move.Refused refused) {
                throw new KilnException(ErrorCode.CONFLICT, "job " + id + " has already ended (" + refused.state()
                        + "); there is nothing to cancel");
            }
            if (job.vm() != null && tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ? AND state IN (?, ?, ?)",
                    VmState.STOPPING, now, job.vm(), VmState.PENDING, VmState.BOOTING, VmState.RUNNING) > 0) {
                tx.desiredChanged(job.host());
            }
            return find(tx, id, true).orElseThrow();
        });
    }

    private Optional<JobView> find(Tx tx, String id, boolean withTimeline) throws SQLException {
        List<JobEvent> timeline = withTimeline
                ? tx.query("SELECT state, at, detail FROM job_events WHERE job_id = ? ORDER BY n",
                        row -> new JobEvent(JobState.valueOf(row.getString("state")),
                                Instant.ofEpochMilli(row.getLong("at")).toString(), row.getString("detail")), id)
                : List.of();
        Optional<JobView> plain = tx.queryOne(VIEW + " WHERE id = ?", row -> plainView(row, timeline), id);
        return plain.isEmpty() ? plain : Optional.of(described(tx, List.of(plain.get())).getFirst());
    }

    /** A row of {@code jobs} alone, without its provider's side. */
    private static JobView plainView(ResultSet row, List<JobEvent> timeline) throws SQLException {
        return new JobView(row.getString("id"), JobState.valueOf(row.getString("state")),
                read(row.getString("command"), new TypeReference<List<String>>() {}), row.getString("image"),
                row.getInt("cpus"), row.getLong("memory_mib"), row.getInt("disk_gib"), row.getString("arch"),
                row.getString("org"), row.getString("repo"), row.getInt("priority"), row.getString("host"),
                row.getString("vm"), Tx.intOrNull(row, "exit_code"), row.getString("error_code"),
                row.getString("detail"), Tx.instantOrNull(row, "created_at"), Tx.instantOrNull(row, "updated_at"),
                timeline, row.getString("kind"), null, row.getString("image_digest"), null);
    }

    static String json(Object value) {
        return StoredJson.write(value);
    }

    static <T> T read(String json, TypeReference<T> type) {
        return StoredJson.read(json, type);
    }

    static KilnException notFound(String id) {
        return new KilnException(ErrorCode.NOT_FOUND, "no job " + id + "; `kiln jobs` lists them");
    }
}
