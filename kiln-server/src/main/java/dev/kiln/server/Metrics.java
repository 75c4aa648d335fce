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
import java.util.function.ObjDoubleConsumer;

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

    /** The boot phases the guest reports (images/guest/kiln-init, kiln-root, the runner's hooks) and the ready marker. */
    static final List<String> BOOT_PHASES = List.of("init", "network", "sshd", "dockerd");
    private static final double[] BOOT_BOUNDS = {0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300};

    /**
     * @param webhooks the outcomes of the deliveries the providers' intake took in this process
     * @param providers whose API calls and rate limits are shown
     */
    Metrics(Database db, HostStore hosts, WebhookOutcomes webhooks, List<Provider> providers) {
        this.db = requireNonNull(db, "db is null");
        this.hosts = requireNonNull(hosts, "hosts is null");
        requireNonNull(webhooks, "webhooks is null");
        List<Provider> shown = List.copyOf(providers);
        // Booted VMs (their boot kept once, from their host's report), read from the store as the counts are.
        registry.register(new StoredHistogram(db, "kiln_vm_boot_seconds",
                "From a VM's VMM start to its guest's ready marker, per booted VM, as its host reported", null, List.of(),
                "(SELECT boot_ms AS ms FROM vms WHERE boot_ms IS NOT NULL) b", BOOT_BOUNDS));
        registry.register(new StoredHistogram(db, "kiln_vm_boot_phase_seconds",
                "From a VM's VMM start to each boot phase its guest reached (init, network, sshd, dockerd)", "phase",
                BOOT_PHASES, "(SELECT phase AS label, at_ms AS ms FROM vm_boot_phases) p", BOOT_BOUNDS));
        GaugeWithCallback.builder().name("kiln_host_vms").help("VMs running on each host (booted, not ended)")
                .labelNames("host").callback(cb -> perHost("SELECT host, COUNT(*) FROM vms WHERE state = 'RUNNING' GROUP BY host",
                        (host, value) -> cb.call(value, host))).register(registry);
        CounterWithCallback.builder().name("kiln_agent_cleanup_failures")
                .help("VMs whose resources a host's agent failed to remove, since the agent's start")
                .labelNames("host").callback(cb -> perHost("SELECT name, cleanup_failures FROM hosts",
                        (host, value) -> cb.call(value, host))).register(registry);
        CounterWithCallback.builder().name("kiln_webhook_deliveries")
                .help("Webhook deliveries this server took, by provider and outcome")
                .labelNames("provider", "outcome").callback(cb -> webhooks.snapshot().forEach((provider, counts) ->
                        counts.forEach((outcome, count) -> cb.call(count, provider, outcome.label()))))
                .register(registry);
        CounterWithCallback.builder().name("kiln_provider_api_calls")
                .help("Requests this server sent to a provider's API, by endpoint and HTTP status (error: no answer)")
                .labelNames("provider", "endpoint", "status").callback(cb -> {
                    for (Provider provider : shown) {
                        for (ApiUse.Calls calls : provider.apiUse().calls()) {
                            cb.call(calls.count(), provider.kind(), calls.endpoint(), calls.status());
                        }
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("kiln_provider_rate_limit_remaining")
                .help("Requests left in a provider's rate-limit window, as its last answer told, by credential")
                .labelNames("provider", "credential").callback(cb -> {
                    for (Provider provider : shown) {
                        provider.apiUse().limits().forEach(l -> cb.call(l.remaining(), provider.kind(), l.credential()));
                    }
                }).register(registry);
        GaugeWithCallback.builder().name("kiln_provider_rate_limit")
                .help("A provider's rate-limit budget per window, as its last answer told, by credential")
                .labelNames("provider", "credential").callback(cb -> {
                    for (Provider provider : shown) {
                        provider.apiUse().limits().stream().filter(l -> l.limit() >= 0)
                                .forEach(l -> cb.call(l.limit(), provider.kind(), l.credential()));
                    }
                }).register(registry);
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

    /** Each enrolled host's value from {@code sql} (host, value), 0 for a host the query has no row for. */
    private void perHost(String sql, ObjDoubleConsumer<String> series) {
        Map<String, Long> values = countBy(sql);
        for (HostView h : hosts.list()) {
            series.accept(h.name(), values.getOrDefault(h.name(), 0L));
        }
    }

    private Map<String, Long> countBy(String sql) {
        return db.read(tx -> {
            Map<String, Long> counts = new HashMap<>();
            tx.query(sql, row -> counts.put(row.getString(1), row.getLong(2)));
            return counts;
        });
    }
}
