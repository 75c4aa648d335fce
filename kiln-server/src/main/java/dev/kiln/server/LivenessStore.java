package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Marks hosts silent past the deadline OFFLINE. Their VMs are LOST; jobs that had not started (PENDING
 * or BOOTING VMs) are queued again, jobs that ran are LOST. Conditional updates under row locks make
 * two replicas doing it at once harmless.
 */
final class LivenessStore {
    private static final Logger log = LoggerFactory.getLogger(LivenessStore.class);

    private record Held(String id, String job, VmState state, JobState jobState) {}

    private final Database db;
    private final InstantSource clock;

    LivenessStore(Database db, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Hosts last seen before {@code now - silence} go offline; returns their names. */
    List<String> markSilentHostsOffline(Duration silence) {
        long now = clock.millis();
        long threshold = now - silence.toMillis();
        return db.tx(tx -> {
            List<String> silent = tx.query("SELECT name FROM hosts WHERE offline = 0 AND last_seen IS NOT NULL"
                    + " AND last_seen < ? ORDER BY name" + tx.dialect().forUpdate(), row -> row.getString(1), threshold);
            for (String host : silent) {
                tx.update("UPDATE hosts SET offline = 1 WHERE name = ?", host);
                String why = "host " + host + " was silent for more than " + silence.toSeconds() + " s";
                List<Held> vms = tx.query("SELECT v.id, v.job_id, v.state, j.state AS job_state FROM vms v JOIN jobs j"
                                + " ON j.id = v.job_id WHERE v.host = ? AND v.state IN (?, ?, ?, ?)" + tx.dialect().forUpdate(),
                        row -> new Held(row.getString("id"), row.getString("job_id"),
                                VmState.valueOf(row.getString("state")), JobState.valueOf(row.getString("job_state"))),
                        host, VmState.PENDING, VmState.BOOTING, VmState.RUNNING, VmState.STOPPING);
                int requeued = 0;
                int lost = 0;
                for (Held vm : vms) {
                    SyncStore.setVm(tx, vm.id(), VmState.LOST, now);
                    if (vm.jobState().terminal()) {
                        continue;
                    }
                    boolean beforeStart = vm.state() == VmState.PENDING || vm.state() == VmState.BOOTING;
                    Jobs.Move move = SyncStore.abandon(tx, vm.job(), vm.jobState(), beforeStart, why + (beforeStart
                            ? " before VM " + vm.id() + " started the job" : " while VM " + vm.id() + " ran the job"), now);
                    if (move instanceof Jobs.Move.Moved moved && moved.to() == JobState.QUEUED) {
                        requeued++;
                    } else if (move.moved()) {
                        lost++;
                    }
                }
                log.warn("{}: offline; {} VM(s) lost, {} job(s) queued again, {} job(s) lost", why, vms.size(),
                        requeued, lost);
                tx.desiredChanged(host);
                tx.signal(Signals.SCHEDULE);
            }
            return silent;
        });
    }
}
