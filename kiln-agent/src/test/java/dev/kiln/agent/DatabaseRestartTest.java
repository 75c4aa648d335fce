package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.testkit.TestingPostgres;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The PostgreSQL server is killed (SIGKILL) and started again while jobs run and wait: the Kiln
 * server answers "unavailable" meanwhile, then carries on; no job is lost and none runs twice.
 */
@Timeout(180)
class DatabaseRestartTest {
    static final String ADMIN = "db-restart-admin-token-0123456789";

    @TempDir
    Path dir;

    @Test
    void aRestartedDatabaseLosesNoJobAndRunsNoneTwice() throws Exception {
        try (TestingPostgres postgres = TestingPostgres.start()) {
            ServerConfig config = ServerConfig.defaults(postgres.newDatabase(), ADMIN).withListen("127.0.0.1", 0);
            KilnServer server = KilnServer.start(config, InstantSource.system());
            Agent agent = null;
            try {
                KilnClient client = new KilnClient(server.uri(), ADMIN);
                var credentials = Enrolment.credentials(server.uri(), client.addHost("h1").enrolmentToken(), dir);
                agent = new Agent(new AgentConfig(server.uri(), credentials.hostToken(), Duration.ofSeconds(2),
                        Duration.ofMillis(200)), new SimulatedVmm(new Capacity(Arch.X86_64, 2, 4096, 100), Duration.ZERO,
                        dir.resolve("simulated-vms.json")));
                agent.start();
                List<JobView> jobs = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    jobs.add(client.submit(JobRequest.command(List.of("sleep", "2"), 1, 2048, 2)));
                }
                await().atMost(Duration.ofSeconds(30)).until(() -> client.job(jobs.getFirst().id()).state()
                        == JobState.RUNNING);

                postgres.kill();
                Thread.sleep(3000); // a real outage: the agent's reports and the scheduler fail meanwhile
                postgres.startServer();

                await().atMost(Duration.ofSeconds(120)).until(() -> jobs.stream()
                        .allMatch(job -> client.job(job.id()).state().terminal()));
                for (JobView job : jobs) {
                    JobView done = client.job(job.id());
                    assertThat(done.state()).as(done.id() + " " + done.detail()).isEqualTo(JobState.SUCCEEDED);
                    assertThat(done.timeline()).extracting(JobEvent::state).filteredOn(s -> s == JobState.RUNNING)
                            .as("ran once").hasSize(1);
                }
            } finally {
                if (agent != null) {
                    agent.close();
                }
                server.close();
            }
        }
    }
}
