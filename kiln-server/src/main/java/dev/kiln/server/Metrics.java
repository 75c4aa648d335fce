package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.HostView;
import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code /metrics} shows, read from the store at each scrape: the store is the truth shared by every
 * server process, so counts held in one process's memory would differ between replicas and restart at 0.
 */
final class Metrics {
    private static final List<String> HOST_STATES = List.of("PENDING", "ACTIVE", "DRAINING", "OFFLINE");
    /** The VM states that end a launch: its outcome. */
    private static final List<VmState> OUTCOMES = List.of(VmState.EXITED, VmState.FAILED, VmState.LOST);

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final Database db;
    private final HostStore hosts;

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
