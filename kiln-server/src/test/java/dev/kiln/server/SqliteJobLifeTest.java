package dev.kiln.server;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** Random job lives on the embedded default: SQLite, one server at a time (a restart reopens the store). */
class SqliteJobLifeTest extends JobLifeContract {
    @TempDir
    Path dir;

    @Override
    String newDatabase() {
        return "jdbc:sqlite:" + dir.resolve("kiln-" + System.nanoTime() + ".db");
    }

    @Override
    int replicas() {
        return 1;
    }
}
