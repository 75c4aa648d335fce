package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.HostView;
import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code /metrics} shows, read from the store at each scrape: the store is the truth shared by every
 * server process, so counts held in one process's memory would differ between replicas and restart at 0.
 */
final class Metrics implements SchedulingLoop.Observer {
    private static final List<String> HOST_STATES = List.of("PENDING", "ACTIVE", "DRAINING", "OFFLINE");
    /** The VM states that end a launch: its outcome. */
    private static final List<VmState> OUTCOMES = List.of(VmState.EXITED, VmState.FAILED, VmState.LOST);

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Database db;
    private final HostStore hosts;
    /** Observed in this process as passes happen (a histogram's buckets cannot be read back from the store). */
    private final Histogram queueWait = Histogram.builder().name("kiln_queue_wait_seconds")
            .help("How long each job placed by this server had been queued").classicUpperBounds(
                    0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600).register(registry);
    private final Histogram schedulingPass = Histogram.builder().name("kiln_scheduling_pass_seconds")
            .help("How long each scheduling pass with a queue took").classicUpperBounds(
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5).register(registry);

    Metrics(Database db, HostStore hosts) {
        this.db = requireNonNull(db, "db is null");
        this.hosts = requireNonNull(hosts, "hosts is null");
        GaugeWithCallback.builder().name("kiln_jobs").help("Jobs in the store by state")
                .labelNames("state").callback(cb -> {
                    Map<String, Long> counts = countBy("SELECT state, COUNT(*) FROM jobs GROUP BY state");
                    for (JobState state : JobState.values()) {
                        cb.call(counts.getOrDefault(state.name(), 0L), state.name().toLowerCase());
                    }
                }).register(registry);
        CounterWithCallback.builder().name("kiln_vm_launches").help("VM launches that ended, by outcome")
                .labelNames("outcome").callback(cb -> {
                    Map<String, Long> counts = countBy("SELECT state, COUNT(*) FROM vms GROUP BY state");
                    for (VmState outcome : OUTCOMES) {
                        cb.call(counts.getOrDefault(outcome.name(), 0L), outcome.name().toLowerCase());
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("kiln_vms").help("VMs that hold room on their host, by state")
                .labelNames("state").callback(cb -> {
                    Map<String, Long> counts = countBy("SELECT state, COUNT(*) FROM vms GROUP BY state");
                    for (VmState state : VmState.values()) {
                        if (!OUTCOMES.contains(state)) {
                            cb.call(counts.getOrDefault(state.name(), 0L), state.name().toLowerCase());
                        }
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("kiln_hosts").help("Hosts by state")
                .labelNames("state").callback(cb -> {
                    Map<String, Long> counts = new HashMap<>();
                    hosts.list().forEach(h -> counts.merge(h.state(), 1L, Long::sum));
                    HOST_STATES.forEach(s -> cb.call(counts.getOrDefault(s, 0L), s.toLowerCase()));
                }).register(registry);
        GaugeWithCallback.builder().name("kiln_host_vcpus").help("A host's vCPUs, used by its VMs or free")
                .labelNames("host", "arch", "use").callback(cb -> {
                    for (HostView h : hosts.list()) {
                        cb.call(h.usedVcpus(), h.name(), String.valueOf(h.arch()), "used");
                        cb.call(Math.max(0, h.vcpus() - h.usedVcpus()), h.name(), String.valueOf(h.arch()), "free");
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("kiln_host_memory_bytes").help("A host's memory, used by its VMs or free")
                .labelNames("host", "arch", "use").callback(cb -> {
                    for (HostView h : hosts.list()) {
                        cb.call(h.usedMemoryMib() << 20, h.name(), String.valueOf(h.arch()), "used");
                        cb.call(Math.max(0, h.memoryMib() - h.usedMemoryMib()) << 20, h.name(), String.valueOf(h.arch()), "free");
                    }
                }).register(registry);
    }

    @Override
    public void passed(Duration took, List<Duration> waited) {
        schedulingPass.observe(took.toNanos() / 1e9);
        waited.forEach(w -> queueWait.observe(w.toMillis() / 1e3));
    }

    MetricSnapshots scrape() {
        return registry.scrape();
    }

    private Map<String, Long> countBy(String sql) {
        return db.read(tx -> {
            Map<String, Long> counts = new HashMap<>();
            tx.query(sql, row -> counts.put(row.getString(1), row.getLong(2)));
            return counts;
        });
    }
}
