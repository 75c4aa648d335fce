package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import java.sql.SQLException;
import java.util.List;

/**
 * The user of a provider's job who may open a debugging shell in its VM besides the admins (for GitHub, who
 * triggered the run), with the public keys their provider holds for them: stored with the VM before its first
 * launch, so that every launch lets the same keys in and the SSH gateway lets those keys reach this job alone.
 */
public final class DebugAccess {
    private DebugAccess() {}

    /** Records {@code user} and {@code keys} (authorized_keys lines) for {@code vm}, in {@code tx}. */
    public static void store(Tx tx, String vm, String user, List<String> keys) throws SQLException {
        requireNonNull(user, "user is null");
        requireNonNull(keys, "keys is null");
        for (String key : keys) {
            if (key.isBlank() || key.contains("\n") || key.contains("\r")) {
                throw new IllegalArgumentException("the SSH key of " + user + " for VM " + vm + " is not one line");
            }
        }
        tx.update("UPDATE vms SET ssh_user = ?, ssh_user_keys = ? WHERE id = ?", user, String.join("\n", keys), vm);
    }

    /** The keys {@link #store} kept, from their column. */
    static List<String> keys(String column) {
        return column == null || column.isEmpty() ? List.of() : List.of(column.split("\n"));
    }
}
