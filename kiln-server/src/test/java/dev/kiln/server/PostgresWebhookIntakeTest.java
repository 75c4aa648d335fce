package dev.kiln.server;

import org.junit.jupiter.api.extension.RegisterExtension;

/** Webhook intake on a real PostgreSQL server. */
class PostgresWebhookIntakeTest extends WebhookIntakeContract {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @Override
    String newDatabase() {
        return postgres.newDatabase();
    }
}
