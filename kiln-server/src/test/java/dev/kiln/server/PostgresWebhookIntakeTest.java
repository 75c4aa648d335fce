package dev.kiln.server;

import dev.kiln.testkit.TestingPostgres;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** Webhook intake on a real PostgreSQL server. */
class PostgresWebhookIntakeTest extends WebhookIntakeContract {
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
