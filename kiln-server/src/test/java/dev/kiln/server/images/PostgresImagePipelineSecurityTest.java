package dev.kiln.server.images;

import dev.kiln.server.PostgresServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Rebuilds on Debian's security updates with the pipeline's records on PostgreSQL. */
class PostgresImagePipelineSecurityTest extends ImagePipelineSecurityTest {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @Override
    String databaseUrl() {
        return postgres.newDatabase();
    }
}
