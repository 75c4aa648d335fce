package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

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
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two server replicas on one PostgreSQL database; the agent knows both. When the replica it talks
 * to dies, it moves to the other: its host stays alive, its running job ends normally, and new jobs
 * keep being scheduled onto it.
 */
@Timeout(180)
class ReplicaFailoverTest {
    static final String ADMIN = "failover-admin-token-0123456789";

    @TempDir
    Path dir;

    @Test
    void anAgentMovesToTheLivingReplicaWhenItsReplicaDies() throws Exception {
        try (TestingPostgres postgres = TestingPostgres.start()) {
            ServerConfig config = ServerConfig.defaults(postgres.newDatabase(), ADMIN).withListen("127.0.0.1", 0);
            KilnServer first = KilnServer.start(config, InstantSource.system());
            KilnServer second = KilnServer.start(config, InstantSource.system());
            Agent agent = null;
            try {
                KilnClient viaFirst = new KilnClient(first.uri(), ADMIN);
                KilnClient viaSecond = new KilnClient(second.uri(), ADMIN);
                String token = viaFirst.addHost("h1").enrolmentToken();
                var credentials = Enrolment.credentials(first.uri(), token, dir);
                SimulatedVmm vmm = new SimulatedVmm(new Capacity(Arch.X86_64, 4, 8192, 100), Duration.ZERO,
                        dir.resolve("simulated-vms.json"));
                agent = new Agent(new AgentConfig(first.uri(), credentials.hostToken(), Duration.ofSeconds(2),
                        Duration.ofMillis(200)).withReplicas(List.of(second.uri())), vmm);
                agent.start();
                JobView running = viaSecond.submit(JobRequest.command(List.of("sleep", "3"), 1, 1024, 2));
                await().atMost(Duration.ofSeconds(30)).until(() -> viaSecond.job(running.id()).state() == JobState.RUNNING);

                first.close();

                JobView next = viaSecond.submit(JobRequest.command(List.of("echo", "after failover"), 1, 1024, 2));
                await().atMost(Duration.ofSeconds(60)).until(() -> viaSecond.job(running.id()).state().terminal()
                        && viaSecond.job(next.id()).state().terminal());
                assertThat(viaSecond.job(running.id()).state()).isEqualTo(JobState.SUCCEEDED);
                assertThat(viaSecond.job(next.id()).state()).isEqualTo(JobState.SUCCEEDED);
                assertThat(viaSecond.hosts()).singleElement().satisfies(h -> assertThat(h.state()).isEqualTo("ACTIVE"));
            } finally {
                if (agent != null) {
                    agent.close();
                }
                second.close();
                first.close();
            }
        }
    }
}
