package dev.kiln.server;

import org.junit.jupiter.api.extension.RegisterExtension;

/** Random job lives on a real PostgreSQL server shared by two replicas that race. */
class PostgresJobLifeTest extends JobLifeContract {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @Override
    String newDatabase() {
        return postgres.newDatabase();
    }

    @Override
    int replicas() {
        return 2;
    }
}
