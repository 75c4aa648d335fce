package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.LogChunk;
import dev.kiln.api.LogPage;
import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import java.util.List;

/** VMs' output, kept per job in arrival order; a chunk an agent resends is stored once. */
final class LogStore {
    static final int PAGE = 500;

    private final Database db;

    LogStore(Database db) {
        this.db = requireNonNull(db, "db is null");
    }

    /** Stores checked chunks from the host; chunks of VMs that are not the host's are dropped. */
    void append(String host, List<LogChunk> chunks) {
        if (chunks.isEmpty()) {
            return;
        }
        db.tx(tx -> {
            for (LogChunk chunk : chunks) {
                var job = tx.queryOne("SELECT job_id FROM vms WHERE id = ? AND host = ?", row -> row.getString(1),
                        chunk.vm(), host);
                if (job.isEmpty()) {
                    continue;
                }
                if (tx.queryLong("SELECT COUNT(*) FROM log_chunks WHERE vm_id = ? AND seq = ?", chunk.vm(),
                        chunk.sequence()) > 0) {
                    continue;
                }
                long pos = tx.queryLong("SELECT COALESCE(MAX(pos), 0) + 1 FROM log_chunks WHERE job_id = ?", job.get());
                tx.update("INSERT INTO log_chunks (job_id, pos, vm_id, seq, stream, text) VALUES (?, ?, ?, ?, ?, ?)"
                        + " ON CONFLICT DO NOTHING", job.get(), pos, chunk.vm(), chunk.sequence(), chunk.stream(),
                        chunk.text());
                tx.signal(Signals.job(job.get()));
            }
            return null;
        });
    }

    LogPage read(String jobId, long after) {
        return db.snapshot(tx -> {
            JobState state = tx.queryOne("SELECT state FROM jobs WHERE id = ?", row -> JobState.valueOf(row.getString(1)),
                    jobId).orElseThrow(() -> JobStore.notFound(jobId));
            long vmsRunning = tx.queryLong("SELECT COUNT(*) FROM vms WHERE job_id = ? AND state IN (?, ?, ?, ?)", jobId,
                    VmState.PENDING, VmState.BOOTING, VmState.RUNNING, VmState.STOPPING);
            List<Object[]> rows = tx.query("SELECT pos, stream, text FROM log_chunks WHERE job_id = ? AND pos > ?"
                    + " ORDER BY pos LIMIT " + PAGE, row -> new Object[] {row.getLong(1), row.getString(2),
                    row.getString(3)}, jobId, after);
            long next = rows.isEmpty() ? after : (Long) rows.getLast()[0];
            List<LogPage.Entry> entries = rows.stream().map(r -> new LogPage.Entry((String) r[1], (String) r[2])).toList();
            boolean finished = state.terminal() && vmsRunning == 0 && rows.size() < PAGE;
            return new LogPage(entries, next, finished);
        });
    }
}
