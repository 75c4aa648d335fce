package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import java.sql.SQLException;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runner credential a provider's VM launches with (a GitHub JIT config, a GitLab runner token), kept sealed by
 * its provider in the VM's row ({@code vms.credential}) so that every launch of the VM, from any replica, carries
 * the same one, and dropped when the VM stops holding room. Who may register a VM's runner is the holder of the
 * VM's claim ({@code launch_claims}), so that replicas on one PostgreSQL (and two syncs of one host) never register
 * two runners for one VM; a claim whose holder died expires within {@link #LEASE}. One instance per provider and
 * replica: it releases only its own claims.
 */
public final class LaunchCredentials {
    /**
     * A claim's life unless its holder renews it: a registration renews its claims while it runs ({@link #renewing}),
     * however long its retries and rate-limit waits take, so a claim runs out only when its replica died (killed while
     * registering), and another replica registers the VM's runner at its host's next sync. (A 15-minute lease that
     * covered the longest registration held such VMs' launches for 15 minutes.)
     */
    public static final Duration LEASE = Duration.ofSeconds(30);
    /** How often a registration renews its claims: several times a lease, so one slow renewal loses none. */
    static final Duration RENEW_EVERY = Duration.ofSeconds(5);
    private static final Logger log = LoggerFactory.getLogger(LaunchCredentials.class);

    /** Who registers a VM's runner: this caller, another one now, or nobody since one stored its credential. */
    public enum Claim { OURS, TAKEN, ISSUED }

    private final String holder = Tokens.newId("claim-");

    /**
     * Claims the VM in {@code tx}: a new claim row, or one whose holder let it expire. A credential stored meanwhile
     * (by the claim's previous holder, which then released it) is seen by the statement after the claim.
     */
    public Claim claim(Tx tx, String vm, long now) throws SQLException {
        long expires = now + LEASE.toMillis();
        boolean ours = tx.update("INSERT INTO launch_claims (vm_id, claimed_by, expires_at) VALUES (?, ?, ?)"
                + " ON CONFLICT (vm_id) DO NOTHING", vm, holder, expires) == 1
                || tx.update("UPDATE launch_claims SET claimed_by = ?, expires_at = ? WHERE vm_id = ? AND expires_at <= ?",
                holder, expires, vm, now) == 1;
        if (!ours) {
            return Claim.TAKEN;
        }
        if (tx.queryOne("SELECT 1 FROM vms WHERE id = ? AND credential IS NOT NULL", row -> row.getInt(1), vm).isPresent()) {
            done(tx, vm);
            return Claim.ISSUED;
        }
        return Claim.OURS;
    }

    /**
     * Stores the VM's sealed credential and ends its claim, in {@code tx}; the host's syncs (which found the VM
     * claimed, here or on another replica) wake. False when the VM stopped holding room meanwhile (nothing stored).
     */
    public static boolean store(Tx tx, String vm, String sealed) throws SQLException {
        requireNonNull(sealed, "sealed is null");
        done(tx, vm);
        int stored = tx.update("UPDATE vms SET credential = ? WHERE id = ? AND state IN ('PENDING', 'BOOTING', 'RUNNING')",
                sealed, vm);
        SyncStore.hostOfVm(tx, vm).ifPresent(tx::desiredChanged);
        return stored == 1;
    }

    /**
     * Runs the registration of {@code vms}, which this holder claimed, renewing the claims every {@link #RENEW_EVERY}
     * for a {@link #LEASE} from {@code clock} until it returns.
     */
    public <T> T renewing(Database db, InstantSource clock, Collection<String> vms, Supplier<T> registration) {
        requireNonNull(db, "db is null");
        requireNonNull(clock, "clock is null");
        if (vms.isEmpty()) {
            return registration.get();
        }
        List<String> held = List.copyOf(vms);
        String marks = String.join(", ", Collections.nCopies(held.size(), "?"));
        CountDownLatch done = new CountDownLatch(1);
        // Woken by the latch, never interrupted: an interrupt closes a virtual thread's socket, the database's too.
        Thread renewer = Thread.ofVirtual().name("kiln-claims-" + holder).start(() -> {
            try {
                while (!done.await(RENEW_EVERY.toMillis(), TimeUnit.MILLISECONDS)) {
                    List<Object> args = new ArrayList<>(List.of(clock.millis() + LEASE.toMillis(), holder));
                    args.addAll(held);
                    try {
                        db.tx(tx -> tx.update("UPDATE launch_claims SET expires_at = ? WHERE claimed_by = ? AND vm_id IN ("
                                + marks + ")", args.toArray()));
                    } catch (RuntimeException e) {
                        log.warn("renewing the claims on the runners of VMs {} failed (tried again in {} s): {}", held,
                                RENEW_EVERY.toSeconds(), e.getMessage());
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            return registration.get();
        } finally {
            done.countDown();
            try {
                renewer.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The registration failed: a later sync (of any replica) may try again. */
    public void release(Database db, String vm) {
        requireNonNull(db, "db is null");
        db.tx(tx -> tx.update("DELETE FROM launch_claims WHERE vm_id = ? AND claimed_by = ?", vm, holder));
    }

    private static void done(Tx tx, String vm) throws SQLException {
        tx.update("DELETE FROM launch_claims WHERE vm_id = ?", vm);
    }
}
