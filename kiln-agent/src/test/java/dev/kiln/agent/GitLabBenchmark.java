package dev.kiln.agent;

import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.core.Sleeper;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.gitlab.GitLabProvider;
import dev.kiln.server.gitlab.GitLabSettings;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.SimulatedGitLabRunner;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * GitLab end to end under a burst, GitHubBenchmark's harness with FakeGitLab: a real server (SQLite), 100 agents with
 * simulated VMMs whose runner VMs take a job from the fake with the runner made for them, all in one JVM over loopback
 * HTTP. The fake queues 1,000 jobs tagged {@code kiln-2cpu-4gb} at once and sends their Job Hooks; measures Job Hook
 * received → launch delivered to the agent, and the GitLab API requests per job (counted by the fake). Run by
 * bench/gitlab/run.sh; prints Markdown.
 */
public final class GitLabBenchmark {
    static final String ADMIN = "bench-admin-token-0123456789";
    static final String SECRET = "bench-gitlab-hook-secret";
    static final int HOSTS = GitHubBenchmark.HOSTS;
    static final int JOBS = GitHubBenchmark.JOBS;
    static final int PROJECTS = GitHubBenchmark.REPOS;

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        System.out.println(HOSTS + " hosts of " + GitHubBenchmark.HOST_VCPUS + " vCPUs / " + GitHubBenchmark.HOST_MEMORY_GIB
                + " GiB (room for the whole burst at once); " + JOBS + " jobs tagged `kiln-2cpu-4gb` in " + PROJECTS
                + " projects of one group, queued on the fake at once; each runner VM takes a job at once and reports success.");
        for (int round = 1; round <= rounds; round++) {
            System.out.println();
            System.out.println("## Round " + round + " of " + rounds + ": a burst of " + JOBS + " pending Job Hooks (load average "
                    + Files.readString(Path.of("/proc/loadavg")).split(" ")[0] + " at its start)");
            System.out.println();
            round();
        }
    }

    static void round() throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-gitlab-");
        long nanos0 = System.nanoTime();
        long millis0 = System.currentTimeMillis();
        Map<String, Long> launchedAt = new ConcurrentHashMap<>();
        List<Agent> agents = new ArrayList<>();
        FakeGitLab fake = FakeGitLab.start(InstantSource.system());
        KilnServer server = null;
        try {
            fake.addGroup("acme");
            List<String> projects = new ArrayList<>();
            for (int p = 0; p < PROJECTS; p++) {
                projects.add("acme/project" + p);
                fake.addProject(projects.getLast());
            }
            fake.addUser("kiln-bot", false);
            fake.addMember("acme", "kiln-bot", FakeGitLab.Role.OWNER);
            GitLabConfig config = new GitLabConfig(fake.url(), fake.url(), fake.addAccessToken("kiln-bot", "create_runner",
                    "manage_runner", "read_api"), SECRET, projects, List.of());
            GitLabSettings settings = GitLabSettings.defaults(config, new GitLabClient(config, HttpClient.newHttpClient(), Sleeper.SYSTEM));
            server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0),
                    InstantSource.system(), null, GitLabProvider.factories(settings));
            fake.hooks().sendTo(server.uri().resolve("/webhooks/gitlab"), SECRET);
            KilnClient client = new KilnClient(server.uri(), ADMIN);
            for (int h = 0; h < HOSTS; h++) {
                String name = String.format("h%03d", h);
                var credentials = Enrolment.credentials(server.uri(), client.addHost(name).enrolmentToken(),
                        Files.createDirectories(dir.resolve(name)));
                SimulatedVmm vmm = new SimulatedVmm(new Capacity(Arch.X86_64, GitHubBenchmark.HOST_VCPUS,
                        GitHubBenchmark.HOST_MEMORY_GIB * 1024, GitHubBenchmark.HOST_DISK_GIB), Duration.ZERO, null)
                        .withRunnerGuest(launch -> new SimulatedGitLabRunner().run(launch.runnerJitConfig()));
                Agent agent = new Agent(AgentConfig.of(server.uri(), credentials.hostToken()), new FleetBenchmark.TimedVmm(vmm, launchedAt));
                agent.start();
                agents.add(agent);
            }
            while (client.hosts().stream().anyMatch(h -> !h.state().equals("ACTIVE"))
                    || fake.requests().getOrDefault("GET /projects/:id/jobs", 0L) < PROJECTS) {
                Thread.sleep(50); // the reconcile's pass at start is over before the burst
            }
            Map<String, Long> before = fake.requests();

            long start = System.nanoTime();
            List<Long> jobs = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                jobs.add(fake.queueJob(projects.get(i % PROJECTS), "job-" + i, List.of("kiln-2cpu-4gb"), "true"));
            }
            while (jobs.stream().anyMatch(j -> !fake.job(j).status().equals("success")) && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(400)) {
                Thread.sleep(200);
            }
            long succeeded = System.nanoTime() - start;
            int concluded = 0;
            while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(450)) {
                concluded = (int) client.jobs(null, 1000).stream().filter(j -> j.state() == JobState.SUCCEEDED).count();
                if (concluded >= JOBS && fake.runners().isEmpty()) {
                    break;
                }
                Thread.sleep(200);
            }
            Map<String, Long> during = GitHubBenchmark.difference(fake.requests(), before);
            long ended = System.nanoTime() - start;
            agents.parallelStream().forEach(Agent::close);
            agents.clear();
            server.close();
            server = null;
            List<Long> total = new ArrayList<>();
            try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("kiln.db"));
                    ResultSet rows = db.createStatement().executeQuery("SELECT g.demand, h.received_at FROM gitlab_hooks h"
                            + " JOIN gitlab_jobs g ON g.id = json_extract(h.body, '$.build_id')"
                            + " WHERE json_extract(h.body, '$.build_status') = 'pending'")) {
                while (rows.next()) {
                    Long at = launchedAt.get(rows.getString(1));
                    if (at != null) {
                        total.add(millis0 * 1000 + (at - nanos0) / 1000 - rows.getLong(2) * 1000);
                    }
                }
            }
            long requests = during.values().stream().mapToLong(Long::longValue).sum();
            System.out.println("| | p50 ms | p90 ms | p99 ms | max ms |");
            System.out.println("|---|---:|---:|---:|---:|");
            GitHubBenchmark.row("Job Hook received → launch delivered", total);
            System.out.println();
            System.out.println("| | |");
            System.out.println("|---|---:|");
            System.out.println("| launches measured (the demand made from its own pending hook) | " + total.size() + " of " + JOBS + " |");
            System.out.printf("| every job succeeded on GitLab after | %.1f s |%n", succeeded / 1e9);
            System.out.println("| demands concluded SUCCEEDED | " + concluded + " of " + JOBS + " |");
            System.out.println("| runners left on GitLab | " + fake.runners().size() + " |");
            System.out.printf("| GitLab API requests from the first hook to the last runner deleted (%.0f s) | %d |%n", ended / 1e9, requests);
            System.out.printf("| **API requests per job** | **%.3f** |%n", requests / (double) JOBS);
            System.out.println();
            System.out.println("| route | requests | per job |");
            System.out.println("|---|---:|---:|");
            during.forEach((route, count) -> System.out.printf("| `%s` | %d | %.3f |%n", route, count, count / (double) JOBS));
        } finally {
            agents.parallelStream().forEach(Agent::close);
            if (server != null) {
                server.close();
            }
            fake.close();
            FleetBenchmark.delete(dir);
        }
    }

    private GitLabBenchmark() {}

    static {
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        // As GitHubBenchmark says: Kiln's HttpServer settings must win over the fake's, which starts first.
        System.setProperty("sun.net.httpserver.maxIdleConnections", String.valueOf(Integer.MAX_VALUE));
        System.setProperty("sun.net.httpserver.idleInterval", "90");
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }
}
