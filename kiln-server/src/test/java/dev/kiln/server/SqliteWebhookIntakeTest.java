package dev.kiln.server;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** Webhook intake on the embedded default: SQLite in WAL mode, in a file. */
class SqliteWebhookIntakeTest extends WebhookIntakeContract {
    @TempDir
    Path dir;

    @Override
    String newDatabase() {
        return "jdbc:sqlite:" + dir.resolve("kiln.db");
    }
}
