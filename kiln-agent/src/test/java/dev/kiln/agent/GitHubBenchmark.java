package dev.kiln.agent;

import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.core.Sleeper;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import dev.kiln.testkit.github.SimulatedRunner;
import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * GitHub end to end under a burst: a real server (SQLite) with the App on the fake GitHub, 100 agents with
 * simulated VMMs whose runner VMs claim their jobs from the fake, all in one JVM over loopback HTTP. The
 * fake queues 1,000 jobs at once and delivers their signed {@code queued} webhooks as fast as the server
 * takes them; each runner takes a job at once and, once every launch was delivered, runs it to its conclusion. Measures webhook received → launch delivered to the agent,
 * the part of it spent waiting for GitHub's (the fake's) answers, and the API requests per job.
 * Run by bench/github/run.sh; prints Markdown.
 */
public final class GitHubBenchmark {
    static final String ADMIN = "bench-admin-token-0123456789";
    static final String SECRET = "bench-webhook-secret";
    static final long APP_ID = 31337;
    static final int HOSTS = 100;
    static final int JOBS = 1000;
    static final int REPOS = 10;
    static final int ROUNDS = 3;
    /** Each host holds 16 runner VMs of 2 vCPUs / 4 GiB / 32 GiB: the whole burst fits at once. */
    static final int HOST_VCPUS = 32;
    static final long HOST_MEMORY_GIB = 128;
    static final int HOST_DISK_GIB = 1024;
    private static final Pattern RUNNER_NAME = Pattern.compile("\"name\"\\s*:\\s*\"kiln-(vm-[0-9a-f]+)\"");

    /** One request to GitHub as Kiln's client waited for it. */
    record Wait(long thread, long startNanos, long endNanos) {}

    /**
     * Kiln's HTTP client to GitHub, timed: every request's wait (by thread), and which thread minted each
     * VM's runner (from generate-jitconfig's answer, which names the runner).
     */
    static final class TimedHttpClient extends HttpClient {
        final HttpClient inner = HttpClient.newHttpClient();
        final ConcurrentLinkedQueue<Wait> waits = new ConcurrentLinkedQueue<>();
        final Map<String, Long> mintedOn = new ConcurrentHashMap<>();
        final Map<String, Long> mintedAt = new ConcurrentHashMap<>();

        @Override
        public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
                throws IOException, InterruptedException {
            long thread = Thread.currentThread().threadId();
            long start = System.nanoTime();
            try {
                HttpResponse<T> response = inner.send(request, handler);
                if (request.uri().getPath().endsWith("/generate-jitconfig") && response.body() instanceof String body) {
                    Matcher m = RUNNER_NAME.matcher(body);
                    if (m.find()) {
                        mintedOn.put(m.group(1), thread);
                        mintedAt.put(m.group(1), System.nanoTime());
                    }
                }
                return response;
            } finally {
                waits.add(new Wait(thread, start, System.nanoTime()));
            }
        }

        @Override
        public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
            return inner.sendAsync(request, handler);
        }

        @Override
        public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler,
                HttpResponse.PushPromiseHandler<T> push) {
            return inner.sendAsync(request, handler, push);
        }

        @Override
        public Optional<CookieHandler> cookieHandler() {
            return inner.cookieHandler();
        }

        @Override
        public Optional<Duration> connectTimeout() {
            return inner.connectTimeout();
        }

        @Override
        public Redirect followRedirects() {
            return inner.followRedirects();
        }

        @Override
        public Optional<ProxySelector> proxy() {
            return inner.proxy();
        }

        @Override
        public SSLContext sslContext() {
            return inner.sslContext();
        }

        @Override
        public SSLParameters sslParameters() {
            return inner.sslParameters();
        }

        @Override
        public Optional<Authenticator> authenticator() {
            return inner.authenticator();
        }

        @Override
        public Version version() {
            return inner.version();
        }

        @Override
        public Optional<Executor> executor() {
            return inner.executor();
        }
    }

    public static void main(String[] args) throws Exception {
        System.out.println(HOSTS + " hosts of " + HOST_VCPUS + " vCPUs / " + HOST_MEMORY_GIB + " GiB / " + HOST_DISK_GIB
                + " GiB disk (room for the whole burst at once); " + JOBS + " jobs labelled `kiln-2cpu-4gb` in " + REPOS
                + " repositories of one organisation, queued on the fake at once; each runner VM takes a job at once (GitHub sends"
                + " `in_progress`) and completes it once every launch has been delivered, as jobs that take minutes would."
                + " " + ROUNDS + " rounds, each on a fresh server, fleet and fake, one after the other: the machine is shared,"
                + " and the rounds show how much its other work moves the figures.");
        for (int round = 1; round <= ROUNDS; round++) {
            System.out.println();
            System.out.println("## Round " + round + " of " + ROUNDS + ": a burst of " + JOBS + " queued webhooks (load average "
                    + Files.readString(Path.of("/proc/loadavg")).split(" ")[0] + " at its start)");
            System.out.println();
            round();
        }
    }

    static void round() throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-github-");
        KeyPair keys = AppKeys.generate();
        // Nanos of the launches at the agents, set beside the server's millisecond clock.
        long nanos0 = System.nanoTime();
        long millis0 = System.currentTimeMillis();
        Map<String, Long> launchedAt = new ConcurrentHashMap<>();
        TimedHttpClient http = new TimedHttpClient();
        List<Agent> agents = new ArrayList<>();
        // Runners take their jobs at once but finish them only after the burst, as jobs that take minutes would.
        java.util.concurrent.CountDownLatch finish = new java.util.concurrent.CountDownLatch(1);
        FakeGitHub fake = FakeGitHub.start(APP_ID, keys.getPublic(), InstantSource.system());
        KilnServer server = null;
        try {
            long installation = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
            for (int r = 0; r < REPOS; r++) {
                fake.addRepository("acme", "repo" + r);
            }
            GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) keys.getPrivate(), Secret.of(SECRET), fake.url(), fake.url());
            GitHubApp app = new GitHubApp(config, http, InstantSource.system(), Sleeper.SYSTEM);
            server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0),
                    InstantSource.system(), null, dev.kiln.server.github.GitHubProvider.factories(GitHubSettings.defaults(app)));
            fake.webhooks().sendTo(java.net.URI.create(server.uri() + "/webhooks/github"), SECRET);
            KilnClient client = new KilnClient(server.uri(), ADMIN);
            for (int h = 0; h < HOSTS; h++) {
                String name = String.format("h%03d", h);
                var credentials = Enrolment.credentials(server.uri(), client.addHost(name).enrolmentToken(),
                        Files.createDirectories(dir.resolve(name)));
                SimulatedVmm vmm = new SimulatedVmm(new Capacity(Arch.X86_64, HOST_VCPUS, HOST_MEMORY_GIB * 1024, HOST_DISK_GIB),
                        Duration.ZERO, null).withRunnerGuest(launch -> SimulatedRunner.claimingUntil(finish).run(launch.runnerJitConfig()));
                Agent agent = new Agent(AgentConfig.of(server.uri(), credentials.hostToken()), new FleetBenchmark.TimedVmm(vmm, launchedAt));
                agent.start();
                agents.add(agent);
            }
            while (client.hosts().stream().anyMatch(h -> !h.state().equals("ACTIVE"))) {
                Thread.sleep(50);
            }
            // The reconciler's pass at start lists installations, repositories and runs; it is over before the burst.
            while (fake.requests().getOrDefault("GET /repos/{owner}/{repo}/actions/runs", 0L) < 2L * REPOS) {
                Thread.sleep(50);
            }
            Thread.sleep(1000);
            Map<String, Long> before = fake.requests();
            http.waits.clear();

            long start = System.nanoTime();
            List<Long> jobs = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                jobs.add(fake.queueJob("acme", "repo" + (i % REPOS), "job-" + i, List.of("kiln-2cpu-4gb"), "true"));
            }
            while (launchedAt.size() < JOBS && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(300)) {
                Thread.sleep(100);
            }
            long launched = System.nanoTime() - start;
            finish.countDown();
            while (jobs.stream().anyMatch(j -> !fake.job(j).status().equals("completed"))
                    && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(400)) {
                Thread.sleep(200);
            }
            long completed = System.nanoTime() - start;
            int concluded = 0;
            Map<String, Long> otherwise = Map.of();
            while (System.nanoTime() - start < TimeUnit.SECONDS.toNanos(450)) {
                List<dev.kiln.api.JobView> demands = client.jobs(null, 1000);
                concluded = (int) demands.stream().filter(j -> j.state() == JobState.SUCCEEDED).count();
                otherwise = demands.stream().filter(j -> j.state() != JobState.SUCCEEDED).collect(
                        java.util.stream.Collectors.groupingBy(j -> j.state() + ": " + j.detail(), java.util.TreeMap::new,
                                java.util.stream.Collectors.counting()));
                if (concluded >= JOBS) {
                    break;
                }
                Thread.sleep(200);
            }
            Map<String, Long> during = difference(fake.requests(), before);
            long ended = System.nanoTime() - start;
            // Agents first: a server that stops under held syncs makes every agent log a lost connection.
            agents.parallelStream().forEach(Agent::close);
            agents.clear();
            server.close();
            server = null;
            report(dir, launchedAt, nanos0, millis0, http, during, launched, completed, ended, concluded, installation);
            if (!otherwise.isEmpty()) {
                System.out.println();
                System.out.println("Demands that did not succeed, by state and detail:");
                System.out.println();
                otherwise.forEach((why, count) -> System.out.println("- " + count + " × " + why));
            }
        } finally {
            finish.countDown();
            agents.parallelStream().forEach(Agent::close);
            if (server != null) {
                server.close();
            }
            fake.close();
            FleetBenchmark.delete(dir);
        }
    }

    static void report(Path dir, Map<String, Long> launchedAt, long nanos0, long millis0, TimedHttpClient http,
            Map<String, Long> requests, long launched, long completed, long ended, int concluded, long installation)
            throws Exception {
        record Demand(String id, String vm, long receivedMs, long queuedMs, long scheduledMs) {}
        List<Demand> demands = new ArrayList<>();
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("kiln.db"));
                ResultSet rows = db.createStatement().executeQuery("SELECT j.id, j.vm, d.received_at, j.queued_at,"
                        + " (SELECT MIN(e.at) FROM job_events e WHERE e.job_id = j.id AND e.state = 'SCHEDULED')"
                        + " FROM github_deliveries d JOIN github_demands gd ON gd.gh_job_id = json_extract(d.body, '$.workflow_job.id')"
                        + " JOIN jobs j ON j.id = gd.job_id"
                        + " WHERE d.action = 'queued'")) {
            while (rows.next()) {
                demands.add(new Demand(rows.getString(1), rows.getString(2), rows.getLong(3), rows.getLong(4), rows.getLong(5)));
            }
        }
        List<Long> toDemand = new ArrayList<>();
        List<Long> toReservation = new ArrayList<>();
        List<Long> toLaunch = new ArrayList<>();
        List<Long> toMinted = new ArrayList<>();
        List<Long> mintedToLaunch = new ArrayList<>();
        Map<Long, List<Wait>> waitsByThread = new HashMap<>();
        http.waits.forEach(w -> waitsByThread.computeIfAbsent(w.thread(), t -> new ArrayList<>()).add(w));
        List<Long> total = new ArrayList<>();
        List<Long> github = new ArrayList<>();
        List<Long> own = new ArrayList<>();
        for (Demand d : demands) {
            Long at = launchedAt.get(d.id());
            if (at == null) {
                continue;
            }
            // Microseconds, on the server's clock: it stamped the delivery's arrival in milliseconds.
            long launchMicros = millis0 * 1000 + (at - nanos0) / 1000;
            long receivedMicros = d.receivedMs() * 1000;
            long waited = 0;
            Long thread = d.vm() == null ? null : http.mintedOn.get(d.vm());
            if (thread != null) {
                for (Wait w : waitsByThread.getOrDefault(thread, List.of())) {
                    long from = Math.max(receivedMicros, millis0 * 1000 + (w.startNanos() - nanos0) / 1000);
                    long to = Math.min(launchMicros, millis0 * 1000 + (w.endNanos() - nanos0) / 1000);
                    waited += Math.max(0, to - from);
                }
            }
            toDemand.add((d.queuedMs() - d.receivedMs()) * 1000);
            toReservation.add((d.scheduledMs() - d.queuedMs()) * 1000);
            toLaunch.add(launchMicros - d.scheduledMs() * 1000);
            Long minted = d.vm() == null ? null : http.mintedAt.get(d.vm());
            if (minted != null) {
                long mintedMicros = millis0 * 1000 + (minted - nanos0) / 1000;
                toMinted.add(mintedMicros - d.scheduledMs() * 1000);
                mintedToLaunch.add(launchMicros - mintedMicros);
            }
            total.add(launchMicros - receivedMicros);
            github.add(waited);
            own.add(launchMicros - receivedMicros - waited);
        }
        long requestsTotal = requests.values().stream().mapToLong(Long::longValue).sum();
        System.out.println("| | p50 ms | p90 ms | p99 ms | max ms |");
        System.out.println("|---|---:|---:|---:|---:|");
        row("webhook received → launch delivered", total);
        row("of which waiting for GitHub's answers on the minting thread", github);
        row("Kiln's own (the difference, per job)", own);
        row("· received → demand queued (the webhook stored and applied)", toDemand);
        row("· demand queued → reserved on a host (waiting for and in a scheduling pass)", toReservation);
        row("· reserved → launch delivered (the held sync wakes, mints, answers; the agent)", toLaunch);
        row("  · reserved → GitHub answered the VM's generate-jitconfig", toMinted);
        row("  · GitHub answered → launch delivered (the runner stored, the answer built and sent)", mintedToLaunch);
        System.out.println();
        System.out.println("| | |");
        System.out.println("|---|---:|");
        System.out.println("| launches delivered | " + total.size() + " of " + JOBS + " |");
        System.out.printf("| last launch delivered after | %.1f s |%n", launched / 1e9);
        System.out.printf("| every job completed on GitHub after | %.1f s |%n", completed / 1e9);
        System.out.println("| demands concluded SUCCEEDED | " + concluded + " of " + JOBS + " |");
        System.out.printf("| GitHub API requests from the first webhook to the last conclusion (%.0f s) | %d |%n", ended / 1e9, requestsTotal);
        System.out.printf("| **API requests per job** | **%.3f** |%n", requestsTotal / (double) JOBS);
        System.out.println();
        System.out.println("Requests by route in that time (installation " + installation + "):");
        System.out.println();
        System.out.println("| route | requests | per job |");
        System.out.println("|---|---:|---:|");
        requests.forEach((route, count) -> System.out.printf("| `%s` | %d | %.3f |%n", route, count, count / (double) JOBS));
    }

    static void row(String what, List<Long> micros) {
        long[] sorted = micros.stream().mapToLong(Long::longValue).sorted().map(m -> m * 1000).toArray();
        System.out.println("| " + what + " | " + FleetBenchmark.quantile(sorted, 0.50) + " | "
                + FleetBenchmark.quantile(sorted, 0.90) + " | " + FleetBenchmark.quantile(sorted, 0.99) + " | "
                + FleetBenchmark.quantile(sorted, 1.0) + " |");
    }

    static Map<String, Long> difference(Map<String, Long> after, Map<String, Long> before) {
        Map<String, Long> during = new java.util.TreeMap<>();
        after.forEach((route, count) -> {
            long d = count - before.getOrDefault(route, 0L);
            if (d > 0) {
                during.put(route, d);
            }
        });
        return during;
    }

    private GitHubBenchmark() {}

    static {
        // Quiet the per-VM info logs of 100 agents and the server.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        // The fake starts before Kiln's server, and the JDK's HttpServer reads its connection settings once,
        // at the first server of the process: Kiln's (dev.kiln.server.HttpServers says why) must win, or
        // both close connections under the 1,000 runner guests' and 100 agents' pooled clients.
        System.setProperty("sun.net.httpserver.maxIdleConnections", String.valueOf(Integer.MAX_VALUE));
        System.setProperty("sun.net.httpserver.idleInterval", "90");
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }
}
