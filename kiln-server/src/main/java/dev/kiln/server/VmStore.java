package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.api.VmView;
import java.util.List;

/** VMs as the server records them, newest first. */
final class VmStore {
    private final Database db;

    VmStore(Database db) {
        this.db = requireNonNull(db, "db is null");
    }

    List<VmView> list(boolean all, int limit) {
        String where = all ? "" : " WHERE state IN ('PENDING', 'BOOTING', 'RUNNING', 'STOPPING')";
        return db.read(tx -> tx.query("SELECT * FROM vms" + where + " ORDER BY created_at DESC, id LIMIT ?",
                row -> new VmView(row.getString("id"), row.getString("job_id"), row.getString("host"),
                        VmState.valueOf(row.getString("state")), row.getInt("cpus"), row.getLong("memory_mib"),
                        row.getInt("disk_gib"), Tx.instantOrNull(row, "created_at"), Tx.instantOrNull(row, "updated_at")),
                limit));
    }
}
