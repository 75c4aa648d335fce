package dev.kiln.server;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The store's contract on the embedded default: SQLite in WAL mode, in a file. */
class SqliteStoreTest extends StoreContract {
    @TempDir
    Path dir;

    @Override
    String newDatabase() {
        return "jdbc:sqlite:" + dir.resolve("kiln.db");
    }
}
