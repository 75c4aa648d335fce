package dev.kiln.agent;

import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.api.VmLaunch;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.core.PlacementStrategy;
import dev.kiln.core.SchedulerConfig;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * End to end through the server: a real server (SQLite) and 100 agents, each with a simulated VMM,
 * in one JVM over real HTTP on loopback. Measures submit → launch delivered to the agent at steady
 * rates, and how a burst of 5,000 mixed jobs is packed, best fit beside first fit. No call is
 * repeated: a failed one is counted in the results.
 * Run by bench/fleet/run.sh; prints Markdown.
 */
public final class FleetBenchmark {
    static final String ADMIN = "bench-admin-token-0123456789";
    static final int HOSTS = 100;
    static final int JOBS = 5000;
    static final int[][] SIZES = {{2, 4}, {4, 8}, {8, 16}, {16, 32}, {2, 16}, {2, 8}};
    /**
     * Host size for the burst: 5,000 of these jobs ask about 70,000 GiB, so hosts of 64 GiB would be
     * full long before the burst ends and every strategy would use all 100 (no packing to compare).
     * With 1 TiB hosts the whole burst fits in about 70 of them and the hosts used can be set beside
     * the lower bound.
     */
    static final int BURST_VCPUS = 256;
    static final long BURST_MEMORY_GIB = 1024;

    /** A simulated VMM that notes when each launch reached the agent. */
    static final class TimedVmm implements Vmm {
        final SimulatedVmm inner;
        final Map<String, Long> launchedAt;

        TimedVmm(SimulatedVmm inner, Map<String, Long> launchedAt) {
            this.inner = inner;
            this.launchedAt = launchedAt;
        }

        @Override
        public Capacity capacity() {
            return inner.capacity();
        }

        @Override
        public List<Adopted> recover(Listener listener) {
            return inner.recover(listener);
        }

        @Override
        public void launch(VmLaunch launch, Listener listener) {
            launchedAt.putIfAbsent(launch.job(), System.nanoTime());
            inner.launch(launch, listener);
        }

        @Override
        public void cancel(String vmId) {
            inner.cancel(vmId);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    record Fleet(KilnServer server, KilnClient client, List<Agent> agents, Map<String, Long> launchedAt)
            implements AutoCloseable {
        @Override
        public void close() {
            agents.parallelStream().forEach(Agent::close);
            server.close();
        }
    }

    static Fleet fleet(Path dir, PlacementStrategy strategy, int vcpus, long memoryGib) throws Exception {
        ServerConfig config = ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0).withScheduler(SchedulerConfig.defaults().withStrategy(strategy)
                        .withVcpuOvercommit(2.0));
        KilnServer server = KilnServer.start(config, InstantSource.system());
        KilnClient client = new KilnClient(server.uri(), ADMIN);
        Map<String, Long> launchedAt = new ConcurrentHashMap<>();
        List<Agent> agents = new ArrayList<>();
        for (int h = 0; h < HOSTS; h++) {
            String name = String.format("h%03d", h);
            String token = client.addHost(name).enrolmentToken();
            Path state = Files.createDirectories(dir.resolve(name));
            var credentials = Enrolment.credentials(server.uri(), token, state);
            Agent agent = new Agent(AgentConfig.of(server.uri(), credentials.hostToken()), new TimedVmm(
                    new SimulatedVmm(new Capacity(Arch.X86_64, vcpus, memoryGib * 1024, 1000), Duration.ZERO, null),
                    launchedAt));
            agent.start();
            agents.add(agent);
        }
        while (client.hosts().stream().anyMatch(h -> !h.state().equals("ACTIVE"))) {
            Thread.sleep(50);
        }
        return new Fleet(server, client, agents, launchedAt);
    }

    static JobRequest job(Random random, String seconds) {
        int[] size = SIZES[random.nextInt(SIZES.length)];
        return JobRequest.command(List.of("sleep", seconds), size[0], size[1] * 1024L, 1);
    }

    public static void main(String[] args) throws Exception {
        System.out.println("## Submit → launch delivered to the agent");
        System.out.println();
        System.out.println("100 hosts of 16 vCPUs / 64 GiB; jobs of 2–16 vCPUs and 4–32 GiB that run 0.5–2 s, so the"
                + " fleet has room throughout. Each rate on a fresh server and fleet, one after the other in this run.");
        System.out.println();
        System.out.println("| rate asked | jobs | submitted at | launches at agents | failed calls | p50 ms | p90 ms"
                + " | p99 ms | max ms | scheduling passes | placements per second of pass time |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        latency(50, 2000);
        latency(100, 3000);
        latency(200, JOBS);
        System.out.println();
        System.out.println("## A burst of " + JOBS + " mixed jobs on " + HOSTS + " hosts of " + BURST_VCPUS + " vCPUs / "
                + BURST_MEMORY_GIB + " GiB (vCPU over-commit 2.0)");
        System.out.println();
        System.out.println("The same " + JOBS + " jobs (same sizes, same order) on a fresh server and fleet for each"
                + " strategy, one after the other in this run; each job runs `sleep 3600`, so nothing ends.");
        System.out.println();
        System.out.println("| | best fit (Kiln's default) | first fit (baseline) |");
        System.out.println("|---|---:|---:|");
        String[] best = burstOrWhy(PlacementStrategy.BEST_FIT);
        String[] first = burstOrWhy(PlacementStrategy.FIRST_FIT);
        String[] labels = {"jobs placed", "failed calls (submissions, listings)", "hosts used",
                "lower bound ⌈Σ memory asked ÷ " + BURST_MEMORY_GIB + " GiB⌉", "hosts used ÷ lower bound",
                "memory reserved on the hosts used", "burst submitted in (16 clients)",
                "last job placed after", "scheduling passes", "placements per second of pass time",
                "placements per second of wall time (first submission → last placement)"};
        for (int i = 0; i < labels.length; i++) {
            System.out.println("| " + labels[i] + " | " + best[i] + " | " + first[i] + " |");
        }
    }

    static void latency(int rate, int jobs) throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-");
        Random random = new Random(42);
        AtomicInteger failed = new AtomicInteger();
        try (Fleet fleet = fleet(dir, PlacementStrategy.BEST_FIT, 16, 64);
                ExecutorService submitters = Executors.newVirtualThreadPerTaskExecutor()) {
            Map<String, Long> submittedAt = new ConcurrentHashMap<>();
            long start = System.nanoTime();
            long interval = TimeUnit.SECONDS.toNanos(1) / rate;
            for (int i = 0; i < jobs; i++) {
                long due = start + i * interval;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
                JobRequest request = job(random, String.valueOf(0.5 + random.nextDouble() * 1.5));
                submitters.submit(() -> {
                    long t0 = System.nanoTime();
                    String id = submit(fleet.client(), request, failed);
                    if (id != null) {
                        submittedAt.put(id, t0);
                    }
                });
            }
            long submitted = System.nanoTime() - start;
            while (fleet.launchedAt().size() + failed.get() < jobs
                    && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(180)) {
                Thread.sleep(100);
            }
            long[] nanos = submittedAt.entrySet().stream().filter(e -> fleet.launchedAt().containsKey(e.getKey()))
                    .mapToLong(e -> fleet.launchedAt().get(e.getKey()) - e.getValue()).sorted().toArray();
            var stats = fleet.server().stats();
            System.out.printf("| %d/s | %d | %.0f/s | %d | %d | %s | %s | %s | %s | %d | %,.0f |%n", rate, jobs,
                    jobs / (submitted / 1e9), nanos.length, failed.get(), quantile(nanos, 0.50),
                    quantile(nanos, 0.90), quantile(nanos, 0.99), quantile(nanos, 1.0), stats.passes(),
                    stats.placements() / Math.max(1e-9, stats.schedulingTime().toNanos() / 1e9));
        } finally {
            delete(dir);
        }
    }

    static String quantile(long[] sortedNanos, double q) {
        if (sortedNanos.length == 0) {
            return "–";
        }
        int index = (int) Math.min(sortedNanos.length - 1, Math.ceil(q * sortedNanos.length) - 1);
        return String.format("%.1f", sortedNanos[Math.max(0, index)] / 1e6);
    }

    /** The burst's figures, or in every cell why the burst could not finish. */
    static String[] burstOrWhy(PlacementStrategy strategy) {
        try {
            return burst(strategy);
        } catch (Exception e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            String why = "failed: " + root;
            String[] cells = new String[11];
            Arrays.fill(cells, why);
            return cells;
        }
    }

    static String[] burst(PlacementStrategy strategy) throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-");
        Random random = new Random(42);
        AtomicInteger failed = new AtomicInteger();
        try (Fleet fleet = fleet(dir, strategy, BURST_VCPUS, BURST_MEMORY_GIB);
                ExecutorService submitters = Executors.newFixedThreadPool(16)) {
            List<JobRequest> requests = new ArrayList<>();
            long asked = 0;
            for (int i = 0; i < JOBS; i++) {
                JobRequest request = job(random, "3600");
                requests.add(request);
                asked += request.memoryMib();
            }
            long start = System.nanoTime();
            List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
            for (JobRequest request : requests) {
                futures.add(submitters.submit(() -> submit(fleet.client(), request, failed)));
            }
            for (var future : futures) {
                future.get();
            }
            long submitted = System.nanoTime() - start;
            // Wait until every job reached its agent, or placements stop (jobs wait for room).
            int seen = -1;
            long lastChange = System.nanoTime();
            while (fleet.launchedAt().size() < JOBS - failed.get()
                    && System.nanoTime() - lastChange < TimeUnit.SECONDS.toNanos(10)) {
                Thread.sleep(200);
                int now = fleet.launchedAt().size();
                if (now != seen) {
                    seen = now;
                    lastChange = System.nanoTime();
                }
            }
            long lastLaunch = fleet.launchedAt().values().stream().mapToLong(Long::longValue).max().orElse(start);
            int placed = fleet.launchedAt().size(); // GET /vms lists at most 1,000
            var hosts = fleet.client().hosts();
            long hostsUsed = hosts.stream().filter(h -> h.vms() > 0).count();
            long memory = hosts.stream().mapToLong(h -> h.usedMemoryMib()).sum();
            long hostMib = BURST_MEMORY_GIB * 1024;
            long bound = (asked + hostMib - 1) / hostMib;
            var stats = fleet.server().stats();
            return new String[] {placed + " of " + JOBS, String.valueOf(failed.get()), String.valueOf(hostsUsed),
                    String.valueOf(bound), String.format("%.3f", hostsUsed / (double) bound),
                    String.format("%.1f %%", 100.0 * memory / (hostsUsed * (double) hostMib)),
                    String.format("%.1f s", submitted / 1e9), String.format("%.1f s", (lastLaunch - start) / 1e9),
                    String.valueOf(stats.passes()),
                    String.format("%,.0f", stats.placements() / Math.max(1e-9, stats.schedulingTime().toNanos() / 1e9)),
                    String.format("%,.0f", stats.placements() / Math.max(1e-9, (lastLaunch - start) / 1e9))};
        } finally {
            delete(dir);
        }
    }

    /** Submits once: a failure is counted (and shown in the results), never repeated. */
    static String submit(KilnClient client, JobRequest request, AtomicInteger failed) {
        try {
            return client.submit(request).id();
        } catch (RuntimeException e) {
            if (failed.incrementAndGet() <= 5) {
                System.err.println("submission failed: " + e.getMessage());
            }
            return null;
        }
    }

    static void delete(Path dir) throws Exception {
        try (var paths = Files.walk(dir)) {
            for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }

    private FleetBenchmark() {}

    static {
        // Quiet the per-VM info logs of 100 agents.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    }
}
