package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.AgentClient;
import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.TestingPostgres;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The intake campaign's regression test: 500 generated malformed deliveries and API bodies against a real
 * server (port 0, loopback) on SQLite and on PostgreSQL: no answer is 5xx, every verified delivery is stored,
 * nothing else changes but what requests answered 2xx made. {@code bench/intake/run.sh} runs 10,000.
 */
@Timeout(300)
class IntakeCampaignTest {
    static final long APP_ID = 12345;
    static final String SECRET = "campaign-webhook-secret";
    static final String ADMIN = "campaign-admin-token-0123456789";
    static final KeyPair KEYS = AppKeys.generate();
    static TestingPostgres postgres;

    @TempDir
    Path dir;

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

    @Test
    void fiveHundredMalformedBodiesOnSqlite() throws Exception {
        IntakeCampaign.Result result = campaign("jdbc:sqlite:" + dir.resolve("kiln.db"), Integer.getInteger("kiln.campaign.count", 500), 14);
        assertThat(result.problems()).isEmpty();
        assertThat(result.byStatus()).containsKeys(400, 401).doesNotContainKey(0);
        assertThat(result.byStatus().keySet()).allMatch(status -> status < 500);
        assertThat(result.storedDeliveries()).isPositive();
    }

    @Test
    void fiveHundredMalformedBodiesOnPostgres() throws Exception {
        IntakeCampaign.Result result = campaign(postgres.newDatabase(), Integer.getInteger("kiln.campaign.count", 500), 15);
        assertThat(result.problems()).isEmpty();
        assertThat(result.byStatus().keySet()).allMatch(status -> status > 0 && status < 500);
        assertThat(result.storedDeliveries()).isPositive();
    }

    /** A server on the database with the App on the fake, one drained host, one queued job; then the campaign. */
    static IntakeCampaign.Result campaign(String url, int count, long seed) throws Exception {
        TestingClock clock = new TestingClock();
        try (FakeGitHub fake = FakeGitHub.start(APP_ID, KEYS.getPublic(), clock)) {
            fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
            fake.addRepository("acme", "widgets");
            GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) KEYS.getPrivate(), Secret.of(SECRET), fake.url(), fake.url());
            GitHubApp app = new GitHubApp(config, HttpClient.newHttpClient(), clock, clock::advance);
            ServerConfig serverConfig = ServerConfig.defaults(url, ADMIN).withListen("127.0.0.1", 0);
            try (KilnServer server = KilnServer.start(serverConfig, clock, null, GitHubSettings.defaults(app))) {
                KilnClient client = new KilnClient(server.uri(), ADMIN);
                String hostToken = AgentClient.enrol(server.uri(), client.addHost("campaign-host").enrolmentToken()).hostToken();
                client.drainHost("campaign-host");
                client.submit(JobRequest.command(List.of("true"), 1, 512, 1));
                IntakeCampaign.Result result = new IntakeCampaign(server.uri(), SECRET, ADMIN, "campaign-host", hostToken, url)
                        .run(count, seed);
                System.out.println("intake campaign (" + count + " requests, " + url.replaceFirst("\\?.*", "") + "): " + result.summary());
                result.problems().stream().limit(20).forEach(p -> System.out.println("  problem: " + p));
                return result;
            }
        }
    }
}
