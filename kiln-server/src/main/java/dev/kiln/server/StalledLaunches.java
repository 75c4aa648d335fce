package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.JobState;
import dev.kiln.api.VmState;
import dev.kiln.github.GitHubApp;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives back the room of runner VMs whose runner could not be registered in time. A runner VM is reserved on
 * its host before its JIT config is minted (the mint happens when the host's sync first wants the launch), so
 * while GitHub is unreachable such VMs would hold the host without end and starve every other job. A VM still
 * PENDING without a runner {@code deadline} after its reservation, and with no mint under way, is withdrawn
 * (the agent never heard of it: its launch waits for the config) and its demand is queued again, not before
 * a backoff that doubles with each withdrawal of the same demand (30 s up to 10 min). Plain jobs take the room
 * meanwhile.
 */
final class StalledLaunches {
    private static final Logger log = LoggerFactory.getLogger(StalledLaunches.class);
    static final Duration FIRST_BACKOFF = Duration.ofSeconds(30);
    static final Duration MAX_BACKOFF = Duration.ofMinutes(10);

    private record Stalled(String vm, String job, String host, int withdrawals) {}

    private final Database db;
    private final GitHubApp github;
    private final InstantSource clock;
    private final Duration deadline;

    StalledLaunches(Database db, GitHubApp github, InstantSource clock, Duration deadline) {
        this.db = requireNonNull(db, "db is null");
        this.github = requireNonNull(github, "github is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.deadline = requireNonNull(deadline, "deadline is null");
    }

    /** Withdraws the stalled launches; returns how many. */
    int withdraw() {
        long now = clock.millis();
        String because = github.unavailable().map(u -> "GitHub is unavailable (" + u.lastProblem() + ")")
                .orElse("its runner could not be registered");
        return db.tx(tx -> {
            List<Stalled> stalled = tx.query("SELECT v.id, v.job_id, v.host, j.withdrawals FROM vms v JOIN jobs j ON j.id = v.job_id"
                            + " LEFT JOIN github_runners r ON r.vm_id = v.id LEFT JOIN github_runner_claims c ON c.vm_id = v.id"
                            + " WHERE v.state = ? AND j.state = ? AND j.kind = ? AND v.created_at <= ? AND r.vm_id IS NULL"
                            + " AND (c.vm_id IS NULL OR c.expires_at <= ?) ORDER BY v.id",
                    row -> new Stalled(row.getString("id"), row.getString("job_id"), row.getString("host"), row.getInt("withdrawals")),
                    VmState.PENDING, JobState.SCHEDULED, GitHubStore.KIND, now - deadline.toMillis(), now);
            int withdrawn = 0;
            for (Stalled s : stalled) {
                // Conditional: another replica (or a mint that just stored its runner's VM) may have moved it.
                if (tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ? AND state = ?", VmState.FAILED, now,
                        s.vm(), VmState.PENDING) != 1) {
                    continue;
                }
                withdrawn++;
                Duration backoff = backoff(s.withdrawals());
                tx.desiredChanged(s.host());
                tx.update("UPDATE jobs SET not_before = ?, withdrawals = withdrawals + 1 WHERE id = ?",
                        now + backoff.toMillis(), s.job());
                String why = "VM " + s.vm() + " on " + s.host() + " had no runner " + deadline.toSeconds()
                        + " s after its reservation: " + because + "; its room is given back";
                SyncStore.requeue(tx, s.job(), why, now);
                tx.update("UPDATE jobs SET detail = ? WHERE id = ?", why + "; queued again, not before "
                        + backoff.toSeconds() + " s", s.job());
                log.info("job {}: {}; queued again, not before {} s", s.job(), why, backoff.toSeconds());
            }
            return withdrawn;
        });
    }

    /** 30 s for the first withdrawal of a demand, doubling up to 10 min. */
    static Duration backoff(int withdrawals) {
        Duration backoff = FIRST_BACKOFF.multipliedBy(1L << Math.min(withdrawals, 10));
        return backoff.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff;
    }
}
