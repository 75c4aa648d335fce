package dev.kiln.agent;

import dev.kiln.api.JobRequest;
import dev.kiln.api.JobState;
import dev.kiln.api.KilnClient;
import dev.kiln.api.VmLaunch;
import dev.kiln.core.Arch;
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

/**
 * End to end through the server: a real server (SQLite) and 100 agents, each with a simulated VMM
 * (16 vCPUs, 64 GiB), in one JVM over real HTTP on loopback. Measures submit → launch delivered to
 * the agent at a steady rate, and how a burst of 5,000 mixed jobs is packed, best fit beside first fit.
 * Run by bench/fleet/run.sh; prints Markdown.
 */
public final class FleetBenchmark {
    static final String ADMIN = "bench-admin-token-0123456789";
    static final int HOSTS = 100;
    static final int JOBS = 5000;
    static final int[][] SIZES = {{2, 4}, {4, 8}, {8, 16}, {16, 32}, {2, 16}, {2, 8}};

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

    static Fleet fleet(Path dir, PlacementStrategy strategy) throws Exception {
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
                    new SimulatedVmm(new Capacity(Arch.X86_64, 16, 64 * 1024, 1000), Duration.ZERO, null), launchedAt));
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
        int rate = 200;
        System.out.println("## Submit → launch delivered, " + rate + " jobs/s");
        System.out.println();
        latency(rate);
        System.out.println();
        System.out.println("## A burst of " + JOBS + " jobs on " + HOSTS + " hosts of 16 vCPUs / 64 GiB (vCPU over-commit 2.0)");
        System.out.println();
        System.out.println("| | best fit | first fit |");
        System.out.println("|---|---:|---:|");
        String[] best = burstOrWhy(PlacementStrategy.BEST_FIT);
        String[] first = burstOrWhy(PlacementStrategy.FIRST_FIT);
        String[] labels = {"jobs placed in the first wave", "hosts used", "lower bound ⌈Σ memory ÷ 64 GiB⌉",
                "hosts used ÷ lower bound", "memory reserved", "vCPUs reserved (of over-committed)",
                "burst submitted in", "all decided (placed or waiting) in", "scheduling passes",
                "scheduling decisions per second of pass time"};
        for (int i = 0; i < labels.length; i++) {
            System.out.println("| " + labels[i] + " | " + best[i] + " | " + first[i] + " |");
        }
    }

    static void latency(int rate) throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-");
        Random random = new Random(42);
        try (Fleet fleet = fleet(dir, PlacementStrategy.BEST_FIT);
                ExecutorService submitters = Executors.newVirtualThreadPerTaskExecutor()) {
            Map<String, Long> submittedAt = new ConcurrentHashMap<>();
            long start = System.nanoTime();
            long interval = TimeUnit.SECONDS.toNanos(1) / rate;
            for (int i = 0; i < JOBS; i++) {
                long due = start + i * interval;
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait);
                }
                JobRequest request = job(random, String.valueOf(0.5 + random.nextDouble() * 1.5));
                submitters.submit(() -> {
                    long t0 = System.nanoTime();
                    String id = submit(fleet.client(), request);
                    submittedAt.put(id, t0);
                });
            }
            long submitted = System.nanoTime() - start;
            while (fleet.launchedAt().size() < JOBS && System.nanoTime() - start < TimeUnit.SECONDS.toNanos(120)) {
                Thread.sleep(100);
            }
            long[] millis = submittedAt.entrySet().stream().filter(e -> fleet.launchedAt().containsKey(e.getKey()))
                    .mapToLong(e -> fleet.launchedAt().get(e.getKey()) - e.getValue()).sorted().toArray();
            var stats = fleet.server().stats();
            System.out.printf("%d jobs (sizes 2–16 vCPUs, 4–32 GiB; each runs 0.5–2 s) submitted in %.1f s (%.0f/s) by"
                    + " concurrent clients; %d launches reached their agents.%n%n", JOBS, submitted / 1e9,
                    JOBS / (submitted / 1e9), millis.length);
            System.out.println("| submit → launch at the agent | ms |");
            System.out.println("|---|---:|");
            for (double q : new double[] {0.50, 0.90, 0.99, 1.0}) {
                System.out.printf("| p%s | %.1f |%n", q == 1.0 ? "100 (max)" : String.valueOf((int) Math.round(q * 100)),
                        millis[(int) Math.min(millis.length - 1, Math.floor(q * millis.length))] / 1e6);
            }
            System.out.printf("%nScheduling: %d passes, %d decisions, %.0f decisions per second of pass time.%n",
                    stats.passes(), stats.decisions(), stats.decisions() / Math.max(1e-9,
                            stats.schedulingTime().toNanos() / 1e9));
            long waited = fleet.client().jobs(JobState.QUEUED, 10_000).size();
            System.out.printf("Jobs still queued at the end: %d. Submissions repeated after the server closed a kept-alive"
                    + " connection before answering: %d.%n", waited, RESUBMITTED.getAndSet(0));
        } finally {
            delete(dir);
        }
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
            String why = "failed: " + root.getMessage();
            String[] cells = new String[10];
            Arrays.fill(cells, why);
            return cells;
        }
    }

    static String[] burst(PlacementStrategy strategy) throws Exception {
        Path dir = Files.createTempDirectory("kiln-bench-");
        Random random = new Random(42);
        try (Fleet fleet = fleet(dir, strategy); ExecutorService submitters = Executors.newFixedThreadPool(16)) {
            long start = System.nanoTime();
            List<java.util.concurrent.Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < JOBS; i++) {
                JobRequest request = job(random, "3600");
                futures.add(submitters.submit(() -> submit(fleet.client(), request)));
            }
            for (var future : futures) {
                future.get();
            }
            long submitted = System.nanoTime() - start;
            // Wait until placements stop: every job is placed or waits for room.
            int placed = -1;
            while (true) {
                Thread.sleep(500);
                int now = fleet.client().vms().size();
                if (now == placed) {
                    break;
                }
                placed = now;
            }
            long decided = System.nanoTime() - start - 500_000_000L;
            var hosts = fleet.client().hosts();
            long hostsUsed = hosts.stream().filter(h -> h.vms() > 0).count();
            long memory = hosts.stream().mapToLong(h -> h.usedMemoryMib()).sum();
            long vcpus = hosts.stream().mapToLong(h -> h.usedVcpus()).sum();
            long bound = (memory + 64 * 1024 - 1) / (64 * 1024);
            var stats = fleet.server().stats();
            return new String[] {String.valueOf(placed), String.valueOf(hostsUsed), String.valueOf(bound),
                    String.format("%.3f", hostsUsed / (double) bound),
                    String.format("%.1f %%", 100.0 * memory / (HOSTS * 64 * 1024.0)),
                    String.format("%.1f %%", 100.0 * vcpus / (HOSTS * 32.0)),
                    String.format("%.1f s", submitted / 1e9), String.format("≤ %.1f s", decided / 1e9),
                    String.valueOf(stats.passes()),
                    String.format("%,.0f", stats.decisions() / Math.max(1e-9, stats.schedulingTime().toNanos() / 1e9))};
        } finally {
            delete(dir);
        }
    }

    static final java.util.concurrent.atomic.AtomicInteger RESUBMITTED = new java.util.concurrent.atomic.AtomicInteger();

    /** Submits; a connection the server closed before answering is retried (counted in the results). */
    static String submit(KilnClient client, JobRequest request) {
        try {
            return client.submit(request).id();
        } catch (dev.kiln.core.KilnException e) {
            if (e.getMessage() == null || !e.getMessage().contains("received no bytes")) {
                throw e;
            }
            RESUBMITTED.incrementAndGet();
            return client.submit(request).id();
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
