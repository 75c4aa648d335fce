package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import java.sql.SQLException;
import java.time.Duration;

/**
 * Who may mint a runner VM's JIT config: the holder of the VM's row in {@code github_runner_claims}, so that
 * replicas on one PostgreSQL (and two syncs of one host) never register two runners for one VM. A claim
 * whose holder died expires after {@link #LEASE}; the row goes once the runner is stored or the mint failed.
 */
final class MintClaims {
    /**
     * A claim outlives the longest mint (five attempts, each waiting at most GitHub's 30 s timeout and Kiln's
     * 2 min rate-limit wait); one whose replica died expires after it, and another replica mints.
     */
    static final Duration LEASE = Duration.ofMinutes(15);

    /** Who mints a VM's runner: this caller, another one now, or nobody since one stored it. */
    enum Claim { OURS, TAKEN, MINTED }

    /** This replica in claims, so that it releases only its own. */
    private final String holder = Tokens.newId("mint-");

    /**
     * Claims the VM in {@code tx}: a new claim row, or one whose holder let it expire. A runner stored meanwhile
     * (by the claim's previous holder, which then released it) is seen by the statement after the claim.
     */
    Claim claim(Tx tx, String vmId, long now) throws SQLException {
        long expires = now + LEASE.toMillis();
        boolean ours = tx.update("INSERT INTO github_runner_claims (vm_id, claimed_by, expires_at) VALUES (?, ?, ?)"
                + " ON CONFLICT (vm_id) DO NOTHING", vmId, holder, expires) == 1
                || tx.update("UPDATE github_runner_claims SET claimed_by = ?, expires_at = ? WHERE vm_id = ? AND expires_at <= ?",
                holder, expires, vmId, now) == 1;
        if (!ours) {
            return Claim.TAKEN;
        }
        if (tx.queryOne("SELECT 1 FROM github_runners WHERE vm_id = ?", row -> row.getInt(1), vmId).isPresent()) {
            done(tx, vmId);
            return Claim.MINTED;
        }
        return Claim.OURS;
    }

    /** The runner is stored in {@code tx}: the claim has served. */
    static void done(Tx tx, String vmId) throws SQLException {
        tx.update("DELETE FROM github_runner_claims WHERE vm_id = ?", vmId);
    }

    /** The mint failed: a later sync (of any replica) may try again. */
    void release(Database db, String vmId) {
        requireNonNull(db, "db is null");
        db.tx(tx -> tx.update("DELETE FROM github_runner_claims WHERE vm_id = ? AND claimed_by = ?", vmId, holder));
    }
}
