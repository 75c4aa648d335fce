package dev.kiln.server.github;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** GitHub's demands on the embedded default: SQLite in WAL mode, in a file. */
class SqliteGitHubDemandsTest extends GitHubDemandsContract {
    @TempDir
    Path dir;

    @Override
    String newDatabase() {
        return "jdbc:sqlite:" + dir.resolve("kiln.db");
    }
}
