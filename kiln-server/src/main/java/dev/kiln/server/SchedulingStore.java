package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.Allocation;
import dev.kiln.core.Arch;
import dev.kiln.core.Host;
import dev.kiln.core.HostId;
import dev.kiln.core.HostState;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobId;
import dev.kiln.core.JobState;
import dev.kiln.core.PendingJob;
import dev.kiln.core.Scheduler;
import dev.kiln.core.SchedulingResult;
import dev.kiln.core.Size;
import dev.kiln.core.WaitReason;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One scheduling pass in one transaction: reads the queue and the hosts with their reservations, asks
 * the {@link Scheduler}, and writes each reservation (a PENDING VM on the chosen host) before any
 * agent can hear of it. On PostgreSQL the pass first locks every host row, so passes of two replicas
 * run one after the other and never place on the same room twice; queued jobs are claimed with
 * {@code FOR UPDATE SKIP LOCKED}, and a job moves from QUEUED only by a conditional update. A job that no
 * registered host could ever hold fails at once when it is a local one; a provider's job (GitHub's) stays
 * queued with the reason in its detail and is placed once a host that fits enrols. A job whose launch was
 * withdrawn waits until its {@code not_before}.
 */
final class SchedulingStore {
    private static final Logger log = LoggerFactory.getLogger(SchedulingStore.class);
    static final int MAX_QUEUE_PER_PASS = 20_000;

    /**
     * What a pass did; {@code waited}: how long each job it placed had been queued; {@code waiting}: why each job the
     * scheduler left queued waits, by job id.
     */
    record Pass(int queued, int placed, int rejected, Set<String> hosts, List<Duration> waited,
            Map<String, WaitReason> waiting) {}

    private final Database db;
    private final InstantSource clock;

    SchedulingStore(Database db, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    Pass pass(Scheduler scheduler) {
        long now = clock.millis();
        return db.priorityTx(tx -> {
            if (tx.dialect() == Dialect.POSTGRESQL) {
                tx.query("SELECT name FROM hosts ORDER BY name FOR UPDATE", row -> row.getString(1));
            }
            // Jobs of a provider wait for a host that fits instead of failing (the provider still shows them queued).
            Map<String, String> waitingDetail = new HashMap<>();
            List<PendingJob> queue = tx.query("SELECT id, seq, cpus, memory_mib, disk_gib, arch, org, repo, priority,"
                            + " queued_at, kind, detail FROM jobs WHERE state = ? AND (not_before IS NULL OR not_before <= ?)"
                            + " ORDER BY priority DESC, seq LIMIT " + MAX_QUEUE_PER_PASS + tx.dialect().forUpdateSkipLocked(),
                    row -> {
                        if (!NewJob.LOCAL.equals(row.getString("kind"))) {
                            waitingDetail.put(row.getString("id"), String.valueOf(row.getString("detail")));
                        }
                        return new PendingJob(new JobId(row.getString("id")), new Size(row.getInt("cpus"),
                                row.getLong("memory_mib"), row.getInt("disk_gib"), arch(row.getString("arch"))),
                                row.getString("org"), row.getString("repo"), row.getInt("priority"), row.getLong("seq"),
                                Instant.ofEpochMilli(row.getLong("queued_at")));
                    }, JobState.QUEUED, now);
            if (queue.isEmpty()) {
                return new Pass(0, 0, 0, Set.of(), List.of(), Map.of());
            }
            List<Host> hosts = hosts(tx);
            SchedulingResult result = scheduler.schedule(queue, hosts);
            Map<String, PendingJob> byId = new HashMap<>();
            queue.forEach(job -> byId.put(job.id().value(), job));
            Set<String> touched = new java.util.HashSet<>();
            List<Duration> waited = new ArrayList<>();
            for (SchedulingResult.Placement placement : result.placements()) {
                PendingJob job = byId.get(placement.job().value());
                String vm = Tokens.newId("vm-");
                String host = placement.host().value();
                // Claimed FOR UPDATE SKIP LOCKED above, so no other replica moved it; checked all the same.
                if (!Jobs.move(tx, job.id().value(), JobState.QUEUED, new JobChange.Placed(host, vm), now).moved()) {
                    throw new IllegalStateException("job " + job.id() + " left QUEUED during the pass that claimed it");
                }
                tx.update("INSERT INTO vms (id, job_id, host, state, cpus, memory_mib, disk_gib, created_at, updated_at)"
                                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", vm, job.id().value(), host, VmState.PENDING,
                        job.size().vcpus(), job.size().memoryMib(), job.size().diskGib(), now, now);
                tx.desiredChanged(host);
                touched.add(host);
                waited.add(Duration.ofMillis(Math.max(0, now - job.enqueuedAt().toEpochMilli())));
            }
            int waiting = 0;
            for (SchedulingResult.Rejection rejection : result.rejections()) {
                String id = rejection.job().value();
                if (waitingDetail.containsKey(id)) {
                    String why = "waits for a host that can hold it: " + rejection.reason();
                    // Not a change of state: the job stays QUEUED, and its detail and timeline say why.
                    if (!why.equals(waitingDetail.get(id))
                            && tx.update("UPDATE jobs SET detail = ? WHERE id = ? AND state = ?", why, id, JobState.QUEUED) == 1) {
                        Jobs.note(tx, id, why, now);
                        log.info("job {} {}", id, why);
                    }
                    waiting++;
                    continue;
                }
                if (Jobs.move(tx, id, JobState.QUEUED, new JobChange.Unplaceable(rejection.reason()), now).moved()) {
                    log.info("job {} rejected: {}", id, rejection.reason());
                }
            }
            Map<String, WaitReason> reasons = new HashMap<>();
            result.waiting().forEach(w -> reasons.put(w.job().value(), w.reason()));
            return new Pass(queue.size(), result.placements().size(), result.rejections().size() - waiting, touched, waited,
                    reasons);
        });
    }

    private static List<Host> hosts(Tx tx) throws SQLException {
        Map<String, Host> hosts = new LinkedHashMap<>();
        for (Host host : tx.query("SELECT name, arch, vcpus, memory_mib, disk_gib, draining, offline, emulated_arches"
                        + " FROM hosts WHERE arch IS NOT NULL ORDER BY name",
                row -> new Host(new HostId(row.getString("name")), arch(row.getString("arch")), row.getInt("vcpus"),
                        row.getLong("memory_mib"), row.getInt("disk_gib"), Set.of(),
                        row.getInt("offline") == 1 ? HostState.OFFLINE
                                : row.getInt("draining") == 1 ? HostState.DRAINING : HostState.ACTIVE, List.of(),
                        EmulatedArches.parse(row.getString("emulated_arches"))))) {
            hosts.put(host.id().value(), host);
        }
        Map<String, List<Allocation>> allocations = new HashMap<>();
        tx.query("SELECT v.host, v.job_id, v.cpus, v.memory_mib, v.disk_gib, j.arch, j.org, j.repo FROM vms v"
                        + " JOIN jobs j ON j.id = v.job_id WHERE v.state IN (?, ?, ?, ?)",
                row -> allocations.computeIfAbsent(row.getString("host"), h -> new ArrayList<>()).add(new Allocation(
                        new JobId(row.getString("job_id")), new Size(row.getInt("cpus"), row.getLong("memory_mib"),
                        row.getInt("disk_gib"), arch(row.getString("arch"))), row.getString("org"),
                        row.getString("repo"))),
                VmState.PENDING, VmState.BOOTING, VmState.RUNNING, VmState.STOPPING);
        List<Host> result = new ArrayList<>();
        for (Host host : hosts.values()) {
            List<Allocation> on = allocations.getOrDefault(host.id().value(), List.of());
            result.add(new Host(host.id(), host.arch(), host.vcpus(), host.memoryMib(), host.diskGib(), host.labels(),
                    host.state(), dedupe(on), host.emulated()));
        }
        return result;
    }

    /** A job holds room once; a cancelled job's stopping VM and a re-run's VM are one allocation each. */
    private static List<Allocation> dedupe(List<Allocation> allocations) {
        Map<JobId, Allocation> unique = new LinkedHashMap<>();
        for (Allocation allocation : allocations) {
            unique.merge(allocation.job(), allocation, (a, b) -> new Allocation(a.job(), new Size(
                    a.size().vcpus() + b.size().vcpus(), a.size().memoryMib() + b.size().memoryMib(),
                    a.size().diskGib() + b.size().diskGib(), a.size().arch()), a.org(), a.repo()));
        }
        return List.copyOf(unique.values());
    }

    private static Arch arch(String id) {
        return Arch.parse(id).orElseThrow(() -> new IllegalStateException("stored arch '" + id + "' is unknown"));
    }
}
