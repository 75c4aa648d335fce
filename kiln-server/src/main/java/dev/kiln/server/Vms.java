package dev.kiln.server;

import dev.kiln.api.VmState;
import java.sql.SQLException;
import java.util.Optional;

/** What a provider may do to its jobs' VMs: find their host, stop them, fail them. Each call runs in the caller's transaction. */
public final class Vms {
    private Vms() {}

    /** The host the VM is (or was) reserved on. */
    public static Optional<String> hostOf(Tx tx, String vm) throws SQLException {
        return SyncStore.hostOfVm(tx, vm);
    }

    /** Whether the VM holds room and is not being stopped: its runner may still take a job. */
    public static boolean live(Tx tx, String vm) throws SQLException {
        return tx.queryOne("SELECT state FROM vms WHERE id = ?", row -> VmState.valueOf(row.getString(1)), vm)
                .map(state -> state.holdsRoom() && state != VmState.STOPPING).orElse(false);
    }

    /** Asks the VM's agent to stop it, unless it ended or is stopping already; true when it was asked now. */
    public static boolean stop(Tx tx, String vm, long now) throws SQLException {
        Optional<String> host = tx.queryOne("SELECT host FROM vms WHERE id = ? AND state IN (?, ?, ?)", row -> row.getString(1),
                vm, VmState.PENDING, VmState.BOOTING, VmState.RUNNING);
        if (host.isEmpty()) {
            return false;
        }
        tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ?", VmState.STOPPING, now, vm);
        tx.desiredChanged(host.get());
        return true;
    }

    /** The VM will never launch (its runner was refused): it gives its room back. */
    public static void fail(Tx tx, String vm, long now) throws SQLException {
        SyncStore.setVm(tx, vm, VmState.FAILED, now);
        hostOf(tx, vm).ifPresent(tx::desiredChanged);
        tx.signal(Signals.SCHEDULE);
    }
}
