package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.BackoffCurve;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives back the room of a provider's VMs whose runner credential could not be had in time. Such a VM is reserved on
 * its host before its credential is issued (that happens when the host's sync first wants the launch), so while the
 * provider is unreachable the VMs would hold the host without end and starve every other job. A VM still PENDING
 * without a credential the provider's launch deadline after its reservation, and with no registration under way
 * (no live claim), is withdrawn (the agent never heard of it: its launch waits for the credential) and its demand
 * is queued again, not before a backoff that grows with each withdrawal of the same demand
 * ({@link BackoffCurve#PROVIDER}: 30 s doubling to 10 min). Plain jobs take the room meanwhile.
 */
final class StalledLaunches {
    private static final Logger log = LoggerFactory.getLogger(StalledLaunches.class);

    private record Stalled(String vm, String job, String host, int withdrawals) {}

    private final Database db;
    private final InstantSource clock;

    StalledLaunches(Database db, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Withdraws the provider's stalled launches; returns how many. */
    int withdraw(Provider provider) {
        long now = clock.millis();
        Duration deadline = provider.timing().launchDeadline();
        String because = provider.unavailable().orElse("its runner could not be registered");
        return db.tx(tx -> {
            List<Stalled> stalled = tx.query("SELECT v.id, v.job_id, v.host, j.withdrawals FROM vms v JOIN jobs j ON j.id = v.job_id"
                            + " LEFT JOIN launch_claims c ON c.vm_id = v.id"
                            + " WHERE v.state = ? AND j.state = ? AND j.kind = ? AND v.created_at <= ? AND v.credential IS NULL"
                            + " AND (c.vm_id IS NULL OR c.expires_at <= ?) ORDER BY v.id",
                    row -> new Stalled(row.getString("id"), row.getString("job_id"), row.getString("host"), row.getInt("withdrawals")),
                    VmState.PENDING, JobState.SCHEDULED, provider.kind(), now - deadline.toMillis(), now);
            int withdrawn = 0;
            for (Stalled s : stalled) {
                // Conditional: another replica (or a registration that just stored the VM's credential) may have moved it.
                if (tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ? AND state = ? AND credential IS NULL",
                        VmState.FAILED, now, s.vm(), VmState.PENDING) != 1) {
                    continue;
                }
                tx.desiredChanged(s.host());
                Duration backoff = BackoffCurve.PROVIDER.after(s.withdrawals() + 1);
                String why = "VM " + s.vm() + " on " + s.host() + " had no runner " + deadline.toSeconds()
                        + " s after its reservation: " + because + "; its room is given back";
                if (!Jobs.move(tx, s.job(), JobState.SCHEDULED, new JobChange.Requeued(why), now).moved()) {
                    continue;
                }
                withdrawn++;
                tx.update("UPDATE jobs SET not_before = ?, withdrawals = withdrawals + 1, detail = ? WHERE id = ?",
                        now + backoff.toMillis(), why + "; queued again, not before " + backoff.toSeconds() + " s", s.job());
                log.info("job {}: {}; queued again, not before {} s", s.job(), why, backoff.toSeconds());
            }
            return withdrawn;
        });
    }
}
