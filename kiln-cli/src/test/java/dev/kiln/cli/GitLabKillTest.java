package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.agent.Agent;
import dev.kiln.agent.AgentConfig;
import dev.kiln.agent.Capacity;
import dev.kiln.agent.Enrolment;
import dev.kiln.agent.SimulatedVmm;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.TestingPostgres;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.SimulatedGitLabRunner;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two `kiln server` replicas on one PostgreSQL serve GitLab (FakeGitLab, hooks to the first); each in turn is killed
 * with SIGKILL at a random moment of a burst of jobs (seeded) and started again, while an agent that knows both runs
 * the runner VMs on a simulated VMM. No GitLab job is lost: each succeeds, on a runner of its own, and Kiln's demands
 * for them all conclude SUCCEEDED, those whose hooks died with a killed replica as soon as their VM's end is reported.
 * A failure lists the demands left open, the VMs not ended (and who claims their runner's registration), GitLab's
 * jobs, the hooks' fate and what the replicas logged about them.
 */
@Timeout(300)
class GitLabKillTest {
    static final String ADMIN = "gitlab-kill-admin-token-0123456789";
    static final String SECRET = "gitlab-kill-hook-secret";
    static final int BURSTS = 4;
    static final int PER_BURST = 6;

    @TempDir
    Path dir;

    KilnProcess server(int port, String database, Path config) throws InterruptedException {
        return KilnProcess.start(List.of("server", "--data-dir", dir.resolve("server-" + port).toString(), "--listen",
                "127.0.0.1:" + port, "--database", database, "--gitlab-config", config.toString()),
                Map.of("KILN_ADMIN_TOKEN", ADMIN), dir.resolve("server-" + port + ".log"));
    }

    /**
     * What a failure needs to explain itself: the demands not concluded (with their GitLab job and VM), GitLab's jobs,
     * what became of the hooks, and what the replicas logged about those demands.
     */
    String stuck(KilnClient client, FakeGitLab gitlab, List<Long> jobs, int[] ports, String database) throws Exception {
        StringBuilder out = new StringBuilder();
        List<JobView> open = client.jobs(null, 1000).stream().filter(j -> !j.state().terminal()).toList();
        out.append(open.size()).append(" demand(s) not concluded:\n");
        for (JobView j : open) {
            out.append("  ").append(j.id()).append(' ').append(j.state()).append(" vm ").append(j.vm()).append(" on ")
                    .append(j.host()).append(", GitLab job ").append(j.gitlab() == null ? "?" : j.gitlab().jobId() + " ("
                            + j.gitlab().status() + ")").append(", error ").append(j.errorCode()).append(": ")
                    .append(j.detail()).append('\n');
        }
        out.append("VMs not ended, with the claims on their runner's registration:\n");
        try (var connection = DriverManager.getConnection(database); var rows = connection.createStatement().executeQuery(
                "SELECT v.id, v.job_id, v.state, v.credential IS NOT NULL AS issued, c.claimed_by, c.expires_at FROM vms v"
                        + " LEFT JOIN launch_claims c ON c.vm_id = v.id WHERE v.state IN ('PENDING', 'BOOTING', 'RUNNING', 'STOPPING')")) {
            while (rows.next()) {
                out.append("  ").append(rows.getString("id")).append(" of ").append(rows.getString("job_id")).append(' ')
                        .append(rows.getString("state")).append(rows.getBoolean("issued") ? ", runner made" : ", no runner yet")
                        .append(rows.getString("claimed_by") == null ? "" : ", claimed by " + rows.getString("claimed_by")
                                + " until " + Instant.ofEpochMilli(rows.getLong("expires_at"))).append('\n');
            }
        }
        out.append("GitLab's jobs:\n");
        for (long id : jobs) {
            FakeGitLab.JobView job = gitlab.job(id);
            out.append("  ").append(id).append(' ').append(job.status()).append(" on runner ").append(job.runnerId()).append('\n');
        }
        Map<Integer, Long> statuses = new TreeMap<>();
        gitlab.hooks().deliveries().forEach(d -> statuses.merge(d.status(), 1L, Long::sum));
        out.append("hook deliveries by status (0: no answer, -3: disabled): ").append(statuses).append('\n');
        for (int port : ports) {
            Path log = dir.resolve("server-" + port + ".log");
            out.append("replica ").append(port).append(" logged about them:\n");
            if (Files.exists(log)) {
                for (String line : Files.readAllLines(log)) {
                    if (open.stream().anyMatch(j -> line.contains(j.id()) || (j.vm() != null && line.contains(j.vm()))
                            || (j.gitlab() != null && line.contains("GitLab job " + j.gitlab().jobId())))
                            || line.contains("WARN") || line.contains("ERROR")) {
                        out.append("    ").append(line).append('\n');
                    }
                }
            }
        }
        return out.toString();
    }

    @Test
    void replicasKilledAtRandomMomentsLoseNoGitLabJob() throws Exception {
        SplittableRandom random = new SplittableRandom(20);
        try (TestingPostgres postgres = TestingPostgres.start(); FakeGitLab gitlab = FakeGitLab.start(new TestingClock(Instant.now()))) {
            gitlab.addGroup("acme");
            gitlab.addProject("acme/widgets");
            gitlab.addUser("kiln-bot", false);
            gitlab.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
            Path token = Files.writeString(dir.resolve("token"), gitlab.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api"));
            Path secret = Files.writeString(dir.resolve("secret"), SECRET);
            Path config = Files.writeString(dir.resolve("gitlab.properties"), "url=" + gitlab.url() + "\ntoken-file=" + token
                    + "\nwebhook-secret-file=" + secret + "\nprojects=acme/widgets\n");
            String database = postgres.newDatabase();
            int[] ports = {KilnProcess.freePort(), KilnProcess.freePort()};
            URI[] uris = {URI.create("http://127.0.0.1:" + ports[0]), URI.create("http://127.0.0.1:" + ports[1])};
            KilnProcess[] replicas = {server(ports[0], database, config), server(ports[1], database, config)};
            KilnClient client = new KilnClient(uris[1], ADMIN);
            gitlab.hooks().sendTo(uris[0].resolve("/webhooks/gitlab"), SECRET);
            SimulatedVmm vmm = new SimulatedVmm(new Capacity(Arch.X86_64, 16, 32 * 1024, 1000), Duration.ZERO, null)
                    .withRunnerGuest(launch -> new SimulatedGitLabRunner().run(launch.runnerJitConfig()));
            var credentials = Enrolment.credentials(uris[0], new KilnClient(uris[0], ADMIN).addHost("h1").enrolmentToken(), dir.resolve("agent"));
            Agent agent = new Agent(new AgentConfig(uris[0], credentials.hostToken(), Duration.ofSeconds(2), Duration.ofMillis(200))
                    .withReplicas(List.of(uris[1])), vmm);
            agent.start();
            List<Long> jobs = new ArrayList<>();
            try {
                for (int burst = 0; burst < BURSTS; burst++) {
                    int victim = burst % 2;
                    int killAt = random.nextInt(PER_BURST);
                    for (int i = 0; i < PER_BURST; i++) {
                        if (i == killAt) {
                            replicas[victim].kill();
                        }
                        jobs.add(gitlab.queueJob("acme/widgets", "build-" + jobs.size(), List.of("kiln-2cpu-4gb"), "make"));
                    }
                    replicas[victim] = server(ports[victim], database, config); // its reconcile at start finds lost hooks
                    gitlab.hooks().reenable();
                }
                // Lost pending hooks wait for a reconcile (every minute, and at each replica's start); the runner
                // registrations of a replica killed mid-way for its claims to run out (30 s).
                try {
                    await().atMost(Duration.ofSeconds(180)).ignoreException(KilnException.class)
                            .until(() -> jobs.stream().allMatch(j -> gitlab.job(j).status().equals("success")));
                } catch (ConditionTimeoutException e) {
                    throw new AssertionError("GitLab's jobs did not all succeed within 180 s:\n"
                            + stuck(client, gitlab, jobs, ports, database), e);
                }
                List<Long> runners = jobs.stream().map(j -> gitlab.job(j).runnerId()).toList();
                assertThat(runners).as("each job on a runner of its own").doesNotContainNull().doesNotHaveDuplicates();
                // Each runner told GitLab how its job ended before its VM exited; the agent reports the exit at once (to
                // the other replica while one is down), and a replica's clean-up asks GitLab about the job of each ended
                // VM whose hooks did not come within 10 s, on its next tick (1 s), so the demands whose hooks died with a
                // killed replica conclude within seconds. 60 s is room for two loaded cores, not for the quiet reconcile (one to two minutes), which
                // this wait once leaned on and, at 57 s of its 60 on an idle machine, missed on a loaded one.
                try {
                    await().atMost(Duration.ofSeconds(60)).ignoreException(KilnException.class)
                            .until(() -> client.jobs(null, 1000).stream().allMatch(j -> j.state().terminal()));
                } catch (ConditionTimeoutException e) {
                    throw new AssertionError("every GitLab job succeeded, but Kiln's demands did not all conclude within 60 s:\n"
                            + stuck(client, gitlab, jobs, ports, database), e);
                }
                assertThat(client.jobs(null, 1000)).extracting(JobView::state).as("Kiln's demands")
                        .contains(dev.kiln.core.JobState.SUCCEEDED);
                assertThat(client.jobs(null, 1000).stream().filter(j -> j.state() == dev.kiln.core.JobState.SUCCEEDED).count())
                        .as("one demand concluded SUCCEEDED per GitLab job").isEqualTo(jobs.size());
            } finally {
                agent.close();
                for (KilnProcess replica : replicas) {
                    replica.close();
                }
            }
        }
    }
}
