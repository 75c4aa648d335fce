package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The intake campaign's regression test: 500 generated malformed deliveries and API bodies against a real
 * server (port 0, loopback) on SQLite and on PostgreSQL: no answer is 5xx, every verified delivery is stored,
 * nothing else changes but what requests answered 2xx made. {@code bench/intake/run.sh} runs 10,000.
 */
@Timeout(300)
class IntakeCampaignTest {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @TempDir
    Path dir;

    @Test
    void fiveHundredMalformedBodiesOnSqlite() throws Exception {
        IntakeCampaign.Result result = IntakeCampaign.againstServer("jdbc:sqlite:" + dir.resolve("kiln.db"), Integer.getInteger("kiln.campaign.count", 500), 14);
        assertThat(result.problems()).isEmpty();
        assertThat(result.byStatus()).containsKeys(400, 401).doesNotContainKey(0);
        assertThat(result.byStatus().keySet()).allMatch(status -> status < 500);
        assertThat(result.storedDeliveries()).isPositive();
    }

    @Test
    void fiveHundredMalformedBodiesOnPostgres() throws Exception {
        IntakeCampaign.Result result = IntakeCampaign.againstServer(postgres.newDatabase(), Integer.getInteger("kiln.campaign.count", 500), 15);
        assertThat(result.problems()).isEmpty();
        assertThat(result.byStatus().keySet()).allMatch(status -> status > 0 && status < 500);
        assertThat(result.storedDeliveries()).isPositive();
    }
}
