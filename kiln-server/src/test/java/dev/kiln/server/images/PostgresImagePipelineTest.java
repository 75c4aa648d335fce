package dev.kiln.server.images;

import dev.kiln.server.PostgresServer;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The pipeline's decisions on PostgreSQL: its records, the hosts' images and the unfinished jobs' images. */
class PostgresImagePipelineTest extends ImagePipelineTest {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @Override
    String databaseUrl() {
        return postgres.newDatabase();
    }
}
