package dev.kiln.server.github;

import dev.kiln.server.PostgresServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** GitHub's demands on a real PostgreSQL server. */
class PostgresGitHubDemandsTest extends GitHubDemandsContract {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @Override
    String newDatabase() {
        return postgres.newDatabase();
    }
}
