package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingPostgres;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Servers and agents as real processes, killed with SIGKILL: nothing queued or running is lost, and
 * no job is scheduled twice. Agents use the simulated VMM (no VM boots here).
 */
@Timeout(300)
class ControlPlaneFaultTest {
    static final String ADMIN = "fault-test-admin-token-0123456789";
    static final Map<String, String> ENV = Map.of("KILN_ADMIN_TOKEN", ADMIN);
    static final Duration WAIT = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    private KilnProcess server(int port, String database) throws InterruptedException {
        List<String> args = new ArrayList<>(List.of("server", "--data-dir", dir.resolve("server").toString(),
                "--listen", "127.0.0.1:" + port));
        if (database != null) {
            args.addAll(List.of("--database", database));
        }
        return KilnProcess.start(args, ENV, dir.resolve("server-" + port + ".log"));
    }

    private KilnProcess agent(URI server, String name, String token) throws InterruptedException {
        List<String> args = new ArrayList<>(List.of("agent", "--server", server.toString(), "--state-dir",
                dir.resolve("agent-" + name).toString(), "--simulate", "--vcpus", "4", "--vm-memory", "8g"));
        if (token != null) {
            args.addAll(List.of("--token", token));
        }
        return KilnProcess.start(args, Map.of(), dir.resolve("agent-" + name + ".log"));
    }

    @Test
    void killedServersAndAgentsLoseNoJobAndRunNoneTwice() throws Exception {
        int port = KilnProcess.freePort();
        URI uri = URI.create("http://127.0.0.1:" + port);
        KilnClient client = new KilnClient(uri, ADMIN);
        KilnProcess server = server(port, null);
        KilnProcess agent = agent(uri, "h1", client.addHost("h1").enrolmentToken());
        try {
            JobView running = submit(client, 4, "sleep", "4");
            JobView queued1 = submit(client, 4, "sleep", "0.1");
            JobView queued2 = submit(client, 4, "exit", "3");
            awaitState(client, running.id(), JobState.RUNNING);

            server.kill();
            server = server(port, null);

            // The restarted server adopts the running VM from the agent's report; the queue is intact.
            assertThat(client.job(running.id()).state()).isEqualTo(JobState.RUNNING);
            assertThat(awaitEnd(client, running.id()).state()).isEqualTo(JobState.SUCCEEDED);
            assertThat(awaitEnd(client, queued1.id()).state()).isEqualTo(JobState.SUCCEEDED);
            JobView failed = awaitEnd(client, queued2.id());
            assertThat(failed.state()).isEqualTo(JobState.FAILED);
            assertThat(failed.exitCode()).isEqualTo(3);

            // An agent killed while its VM runs: the restarted agent adopts the VM, the job is not re-run.
            JobView adopted = submit(client, 2, "sleep", "4");
            awaitState(client, adopted.id(), JobState.RUNNING);
            agent.kill();
            agent = agent(uri, "h1", null);
            assertThat(awaitEnd(client, adopted.id()).state()).isEqualTo(JobState.SUCCEEDED);

            for (String id : List.of(running.id(), queued1.id(), queued2.id(), adopted.id())) {
                assertThat(client.job(id).timeline()).filteredOn(e -> e.state() == JobState.SCHEDULED)
                        .as("job %s scheduled once", id).hasSize(1);
            }
        } finally {
            agent.close();
            server.close();
        }
    }

    @Test
    void twoReplicasOnPostgresScheduleEachJobOnceAndSurviveOneBeingKilled() throws Exception {
        try (TestingPostgres postgres = TestingPostgres.start()) {
            String database = postgres.newDatabase();
            int port1 = KilnProcess.freePort();
            int port2 = KilnProcess.freePort();
            KilnProcess replica1 = server(port1, database);
            KilnProcess replica2 = server(port2, database);
            KilnClient client1 = new KilnClient(URI.create("http://127.0.0.1:" + port1), ADMIN);
            KilnClient client2 = new KilnClient(URI.create("http://127.0.0.1:" + port2), ADMIN);
            List<KilnProcess> agents = new ArrayList<>();
            try {
                for (int h = 0; h < 3; h++) {
                    // Each agent talks to replica 2; replica 1 takes submissions and schedules too.
                    agents.add(agent(URI.create("http://127.0.0.1:" + port2), "h" + h, client1.addHost("h" + h)
                            .enrolmentToken()));
                }
                List<String> jobs = new ArrayList<>();
                for (int i = 0; i < 120; i++) {
                    KilnClient via = i % 2 == 0 || i >= 60 ? client2 : client1;
                    jobs.add(submit(via, 1 + i % 2, "sleep", "0.05").id());
                    if (i == 60) {
                        replica1.kill(); // mid-burst, while it may be in a scheduling pass
                    }
                }
                for (String id : jobs) {
                    JobView job = awaitEnd(client2, id);
                    assertThat(job.state()).as("job %s", id).isEqualTo(JobState.SUCCEEDED);
                    assertThat(job.timeline()).extracting(JobEvent::state).filteredOn(s -> s == JobState.SCHEDULED)
                            .as("job %s scheduled once", id).hasSize(1);
                }

                // The killed replica comes back; the other one is killed: the agents reconnect to the first.
                replica1 = server(port1, database);
                JobView after = submit(client1, 1, "echo", "still here");
                JobView afterDone = awaitEnd(client1, after.id());
                assertThat(afterDone.state()).as(afterDone.toString()).isEqualTo(JobState.SUCCEEDED);
            } finally {
                for (KilnProcess agent : agents) {
                    agent.close();
                }
                replica1.close();
                replica2.close();
            }
        }
    }

    private static JobView submit(KilnClient client, int cpus, String... command) {
        return client.submit(JobRequest.command(List.of(command), cpus, 1024, 1));
    }

    private static void awaitState(KilnClient client, String id, JobState state) {
        await().atMost(WAIT).ignoreException(KilnException.class).until(() -> client.job(id).state() == state);
    }

    private static JobView awaitEnd(KilnClient client, String id) {
        await().atMost(WAIT).ignoreException(KilnException.class).until(() -> client.job(id).state().terminal());
        return client.job(id);
    }
}
