package dev.kiln.server;

import dev.kiln.testkit.TestingPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** GitHub's demands on a real PostgreSQL server. */
class PostgresGitHubDemandsTest extends GitHubDemandsContract {
    static TestingPostgres postgres;

    @BeforeAll
    static void startPostgres() {
        postgres = TestingPostgres.start();
    }

    @AfterAll
    static void stopPostgres() {
        if (postgres != null) {
            postgres.close();
        }
    }

    @Override
    String newDatabase() {
        return postgres.newDatabase();
    }
}
