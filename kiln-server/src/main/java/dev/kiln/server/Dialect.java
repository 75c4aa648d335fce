package dev.kiln.server;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/** The two databases Kiln stores in, and what differs between them. */
public enum Dialect {
    /** Embedded, one server process: every write runs on its one writer thread, so none need locks. */
    SQLITE(""),
    /** Several replicas: rows are claimed with locks so that no two replicas decide the same job. */
    POSTGRESQL(" FOR UPDATE");

    private final String forUpdate;

    Dialect(String forUpdate) {
        this.forUpdate = forUpdate;
    }

    /** Locks the selected rows until the transaction ends (nothing on SQLite). */
    public String forUpdate() {
        return forUpdate;
    }

    /** Locks the selected rows, skipping rows another replica holds (nothing on SQLite). */
    public String forUpdateSkipLocked() {
        return this == POSTGRESQL ? " FOR UPDATE SKIP LOCKED" : "";
    }

    static Dialect of(String jdbcUrl) {
        if (jdbcUrl.startsWith("jdbc:sqlite:")) {
            return SQLITE;
        }
        if (jdbcUrl.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        throw new KilnException(ErrorCode.INVALID_ARGUMENT, "database URL '" + jdbcUrl
                + "' is neither jdbc:sqlite:FILE nor jdbc:postgresql://HOST:PORT/DB");
    }
}
