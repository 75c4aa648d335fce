package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.AgentReport;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's side of the level-triggered sync: converges its records to an agent's report, and
 * answers the VMs that should exist on the host. A report older than one already applied (same boot,
 * lower sequence) changes nothing; VM states only move forward, so a repeated report is harmless.
 */
final class SyncStore {
    private static final Logger log = LoggerFactory.getLogger(SyncStore.class);

    /** A VM on the host as the store has it, with its job's state. */
    private record Held(String id, String job, VmState state, JobState jobState, String kind) {
        boolean local() {
            return NewJob.LOCAL.equals(kind);
        }
    }

    private final Database db;
    private final InstantSource clock;
    private final Map<String, Provider> providers;
    private final EnvSeal envs;
    private final LaunchImages images;
    private final java.util.function.Supplier<List<String>> prefetch;
    /** Who may log in to VMs through the SSH gateway, and where it is; without a gateway, no sshd. */
    private volatile SshAccess ssh = SshAccess.NONE;

    SyncStore(Database db, InstantSource clock, EnvSeal envs) {
        this(db, clock, Map.of(), envs, LaunchImages.NONE);
    }

    SyncStore(Database db, InstantSource clock, Map<String, Provider> providers, EnvSeal envs) {
        this(db, clock, providers, envs, LaunchImages.NONE);
    }

    /**
     * @param providers the providers by the kind of their jobs: each issues and opens the credentials its VMs
     *     launch with (a job of a kind none serves waits for its credential: its provider is not configured)
     * @param envs opens the jobs' sealed environments, which launches carry to the agent
     * @param images the image of a launch for its VM's arch
     */
    SyncStore(Database db, InstantSource clock, Map<String, Provider> providers, EnvSeal envs, LaunchImages images) {
        this(db, clock, providers, envs, images, List::of);
    }

    /** @param prefetch the digests every host should hold before launches name them (the image pipeline's) */
    SyncStore(Database db, InstantSource clock, Map<String, Provider> providers, EnvSeal envs, LaunchImages images,
            java.util.function.Supplier<List<String>> prefetch) {
        this.prefetch = requireNonNull(prefetch, "prefetch is null");
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.providers = Map.copyOf(providers);
        this.envs = requireNonNull(envs, "envs is null");
        this.images = requireNonNull(images, "images is null");
    }

    /** Launches from now on let in the keys {@code access} names and tell the job where the gateway is. */
    void sshAccess(SshAccess access) {
        this.ssh = requireNonNull(access, "access is null");
    }

    /** Applies a checked report from the host; false when it was stale and changed nothing. */
    boolean apply(String host, AgentReport report) {
        long now = clock.millis();
        return db.tx(tx -> {
            var previous = tx.queryOne("SELECT boot_id, report_seq, arch, vcpus, memory_mib, disk_gib, offline,"
                    + " emulated_arches FROM hosts WHERE name = ?" + tx.dialect().forUpdate(), row -> new Object[] {
                    row.getString("boot_id"), row.getLong("report_seq"), row.getString("arch"), row.getInt("vcpus"),
                    row.getLong("memory_mib"), row.getInt("disk_gib"), row.getInt("offline"),
                    row.getString("emulated_arches")}, host);
            if (previous.isEmpty()) {
                return false; // removed meanwhile; the next call is refused by its token
            }
            Object[] p = previous.get();
            if (report.bootId().equals(p[0]) && report.sequence() <= (Long) p[1]) {
                log.debug("host {}: report {} of boot {} is not newer than {}; ignored", host, report.sequence(),
                        report.bootId(), p[1]);
                return false;
            }
            String arch = Arch.parse(report.arch()).orElseThrow().id();
            String emulated = EmulatedArches.column(report.emulatedArches() == null ? List.of()
                    : report.emulatedArches().stream().map(id -> Arch.parse(id).orElseThrow()).toList());
            boolean capacityChanged = !arch.equals(p[2]) || report.vcpus() != (Integer) p[3]
                    || report.memoryMib() != (Long) p[4] || report.diskGib() != (Integer) p[5] || !emulated.equals(p[7]);
            boolean wasOffline = (Integer) p[6] == 1;
            tx.update("UPDATE hosts SET arch = ?, vcpus = ?, memory_mib = ?, disk_gib = ?, version = ?, boot_id = ?,"
                            + " report_seq = ?, last_seen = ?, offline = 0, emulated_arches = ?, images = ?,"
                            + " cleanup_failures = ? WHERE name = ?",
                    arch, report.vcpus(), report.memoryMib(), report.diskGib(), report.version(), report.bootId(),
                    report.sequence(), now, emulated, report.images() == null ? null
                            : String.join(" ", new java.util.TreeSet<>(report.images())),
                    report.cleanupFailures() == null ? 0L : report.cleanupFailures(), host);
            if (capacityChanged || wasOffline) {
                log.info("host {} {}: {} vCPUs, {} MiB, {} GiB, {}{}", host, wasOffline ? "is back" : "reports",
                        report.vcpus(), report.memoryMib(), report.diskGib(), arch,
                        emulated.isEmpty() ? "" : " (emulates " + emulated + ")");
                tx.signal(Signals.SCHEDULE);
            }
            converge(tx, host, report, now);
            return true;
        });
    }

    private void converge(Tx tx, String host, AgentReport report, long now) throws SQLException {
        Map<String, Held> held = new HashMap<>();
        for (Held vm : tx.query("SELECT v.id, v.job_id, v.state, j.state AS job_state, j.kind FROM vms v"
                        + " JOIN jobs j ON j.id = v.job_id WHERE v.host = ? AND v.state IN (?, ?, ?, ?)" + tx.dialect().forUpdate(),
                row -> new Held(row.getString("id"), row.getString("job_id"), VmState.valueOf(row.getString("state")),
                        JobState.valueOf(row.getString("job_state")), row.getString("kind")),
                host, VmState.PENDING, VmState.BOOTING, VmState.RUNNING, VmState.STOPPING)) {
            held.put(vm.id(), vm);
        }
        Map<String, VmReport> reported = new HashMap<>();
        for (VmReport vm : report.vms() == null ? List.<VmReport>of() : report.vms()) {
            reported.put(vm.id(), vm);
            Held record = held.get(vm.id());
            if (record != null) {
                advance(tx, host, record, vm, now);
            }
        }
        for (Held record : held.values()) {
            if (!reported.containsKey(record.id()) && record.state() != VmState.PENDING) {
                gone(tx, host, record, now);
            }
        }
    }

    /** Moves a VM and its job forward to what the agent reports; never backward. */
    private void advance(Tx tx, String host, Held vm, VmReport report, long now) throws SQLException {
        if (report.sshHostKey() != null && (report.state() == VmState.BOOTING || report.state() == VmState.RUNNING)) {
            // The VM's own host key, which its host made before the boot: kept as first reported.
            tx.update("UPDATE vms SET ssh_host_key = ? WHERE id = ? AND ssh_host_key IS NULL", report.sshHostKey(), vm.id());
        }
        if (report.boot() != null) {
            booted(tx, vm.id(), report.boot());
        }
        switch (report.state()) {
            case BOOTING -> {
                if (vm.state() == VmState.PENDING) {
                    setVm(tx, vm.id(), VmState.BOOTING, now);
                }
                if (vm.jobState() == JobState.SCHEDULED) {
                    Jobs.move(tx, vm.job(), vm.jobState(), new JobChange.Booting("VM " + vm.id() + " is booting on " + host), now);
                }
            }
            case RUNNING -> {
                if (vm.state() == VmState.PENDING || vm.state() == VmState.BOOTING) {
                    setVm(tx, vm.id(), VmState.RUNNING, now);
                }
                if (vm.jobState() == JobState.SCHEDULED || vm.jobState() == JobState.STARTING) {
                    started(tx, host, vm, "VM " + vm.id() + " is up on " + host, now);
                }
            }
            case EXITED, FAILED -> ended(tx, host, vm, report, now);
            default -> throw new IllegalStateException("unchecked VM state " + report.state());
        }
    }

    /**
     * Keeps how the VM booted, from the first report that says so (every later report repeats it): the boot histograms
     * of /metrics count each booted VM once. A phase's time is kept in ms, as reported.
     */
    private static void booted(Tx tx, String vm, VmReport.Boot boot) throws SQLException {
        if (tx.update("UPDATE vms SET image_digest = ?, boot_ms = ? WHERE id = ? AND boot_ms IS NULL",
                boot.imageDigest(), Math.round(boot.seconds() * 1000), vm) == 0) {
            return;
        }
        for (Map.Entry<String, Double> phase : new java.util.TreeMap<>(boot.phases()).entrySet()) {
            tx.update("INSERT INTO vm_boot_phases (vm_id, phase, at_ms) VALUES (?, ?, ?)", vm, phase.getKey(),
                    Math.round(phase.getValue() * 1000));
        }
    }

    /**
     * The job runs. A report can skip BOOTING (a fast boot between two reports): the job still goes through
     * STARTING, and its timeline says so, at the time the server learned of it.
     */
    private static void started(Tx tx, String host, Held vm, String detail, long now) throws SQLException {
        JobState from = vm.jobState();
        if (from == JobState.SCHEDULED
                && Jobs.move(tx, vm.job(), from, new JobChange.Booting("VM " + vm.id() + " booted on " + host), now).moved()) {
            from = JobState.STARTING;
        }
        Jobs.move(tx, vm.job(), from, new JobChange.Started(detail), now);
    }

    private void ended(Tx tx, String host, Held vm, VmReport report, long now) throws SQLException {
        setVm(tx, vm.id(), report.state(), now);
        tx.desiredChanged(host);
        tx.signal(Signals.SCHEDULE);
        if (vm.jobState().terminal()) {
            return; // cancelled meanwhile: the VM's end only frees its room
        }
        if (report.state() == VmState.FAILED) {
            ErrorCode code = Reports.outcome(report);
            Jobs.move(tx, vm.job(), vm.jobState(), new JobChange.LaunchFailed(code,
                    report.detail() == null ? code.name() : report.detail()), now);
            return;
        }
        if (vm.jobState() != JobState.RUNNING) {
            // An exit proves the VM ran, even if the agent never reported it up.
            started(tx, host, vm, "VM " + vm.id() + (vm.local() ? " ran on " : " ran a runner on ") + host, now);
        }
        if (vm.local()) {
            Jobs.move(tx, vm.job(), new JobChange.Exited(report.exitCode()), now);
        } else {
            // A runner's exit code says nothing of the job it ran (ci-protocols.md §5.2): the provider concludes the
            // demand (its webhook may come after the VM's end; its reconciliation asks if none comes).
            Jobs.note(tx, vm.job(), "runner VM " + vm.id() + " exited on " + host + "; the result is " + vm.kind()
                    + "'s conclusion", now);
        }
    }

    /** A VM the agent had reported and no longer has: it restarted, or lost it without a last word. */
    private void gone(Tx tx, String host, Held vm, long now) throws SQLException {
        tx.desiredChanged(host);
        tx.signal(Signals.SCHEDULE);
        if (vm.state() == VmState.STOPPING || vm.jobState().terminal()) {
            setVm(tx, vm.id(), VmState.FAILED, now);
            return;
        }
        setVm(tx, vm.id(), VmState.LOST, now);
        abandon(tx, vm.job(), vm.jobState(), vm.state() == VmState.BOOTING, "VM " + vm.id() + " vanished from host " + host
                + (vm.state() == VmState.BOOTING ? " before the job started" : " while the job ran"), now);
    }

    /**
     * The job's VM is gone. A job that never started is queued again, to run elsewhere as if new (its place in line
     * kept); one that started, or that started meanwhile (its provider's runner took a job before the VM was seen
     * up, or another replica's report won), is LOST.
     */
    static Jobs.Move abandon(Tx tx, String job, JobState state, boolean beforeStart, String why, long now) throws SQLException {
        if (beforeStart) {
            Jobs.Move requeued = Jobs.move(tx, job, state, new JobChange.Requeued(why), now);
            if (requeued.moved()) {
                return requeued;
            }
        }
        return Jobs.move(tx, job, state, new JobChange.Lost(why), now);
    }

    /** The VMs that should exist on the host, with everything each needs. */
    SyncAnswer desired(String host) {
        SyncAnswer answer = desired(host, true);
        if (answer == null) {
            // Provider VMs without a credential: issued now, outside any transaction (it calls the provider), once per VM.
            record Wanting(String vm, String kind) {}
            List<Wanting> wanting = db.read(tx -> tx.query("SELECT v.id, j.kind FROM vms v JOIN jobs j ON j.id = v.job_id"
                            + " WHERE v.host = ? AND v.state IN (?, ?, ?) AND j.kind <> ? AND v.credential IS NULL",
                    row -> new Wanting(row.getString(1), row.getString(2)), host, VmState.PENDING, VmState.BOOTING,
                    VmState.RUNNING, NewJob.LOCAL));
            Map<String, List<String>> byKind = new java.util.TreeMap<>();
            wanting.forEach(w -> byKind.computeIfAbsent(w.kind(), k -> new java.util.ArrayList<>()).add(w.vm()));
            byKind.forEach((kind, vms) -> {
                Provider provider = providers.get(kind);
                if (provider != null) {
                    provider.issueCredentials(vms);
                }
            });
            answer = desired(host, false);
        }
        return answer;
    }

    /** The answer, or null when {@code issue} and a provider's VM lacks its credential. */
    private SyncAnswer desired(String host, boolean issue) {
        return db.snapshot(tx -> {
            // One snapshot: the generation and the VMs agree, so an agent can order answers by generation.
            long generation = tx.queryLong("SELECT generation FROM hosts WHERE name = ?", host);
            boolean draining = tx.queryLong("SELECT draining FROM hosts WHERE name = ?", host) == 1;
            List<String> waiting = new java.util.ArrayList<>();
            List<VmLaunch> vms = new java.util.ArrayList<>();
            for (VmLaunch vm : tx.query("SELECT v.id, v.job_id, v.cpus, v.memory_mib, v.disk_gib, j.image, j.command,"
                            + " j.env, j.timeout_s, j.kind, v.credential, j.arch, h.arch AS host_arch, j.org, v.ssh_user,"
                            + " v.ssh_user_keys FROM vms v"
                            + " JOIN jobs j ON j.id = v.job_id JOIN hosts h ON h.name = v.host"
                            + " WHERE v.host = ? AND v.state IN (?, ?, ?) ORDER BY v.id",
                    row -> launch(row, waiting), host, VmState.PENDING, VmState.BOOTING, VmState.RUNNING)) {
                if (vm != null) {
                    vms.add(vm);
                }
            }
            if (!waiting.isEmpty() && issue && waiting.stream().anyMatch(providers::containsKey)) {
                return null;
            }
            List<String> offered = prefetch.get();
            return new SyncAnswer(host, version(vms, draining, offered), generation, draining, vms, offered);
        });
    }

    /**
     * A launch, or null (and its job's kind in {@code waiting}) for a provider's VM whose credential is not there
     * yet: the agent hears of it only once it can start its runner.
     */
    private VmLaunch launch(java.sql.ResultSet row, List<String> waiting) throws SQLException {
        String id = row.getString("id");
        String kind = row.getString("kind");
        String credential = null;
        if (!NewJob.LOCAL.equals(kind)) {
            Provider provider = providers.get(kind);
            String sealed = row.getString("credential");
            credential = provider == null || sealed == null ? null : provider.openCredential(sealed);
            if (credential == null) {
                waiting.add(kind);
                return null;
            }
        }
        // The VM's arch: the job's, or the host's own for a job that runs on any (never emulated then).
        Arch jobArch = Arch.parse(row.getString("arch")).orElse(Arch.ANY);
        Arch vmArch = jobArch == Arch.ANY ? Arch.parse(row.getString("host_arch")).orElse(Arch.X86_64) : jobArch;
        String job = row.getString("job_id");
        Map<String, String> env = envs.open(job, row.getString("env"));
        List<String> keys = ssh.keys(row.getString("org"), DebugAccess.keys(row.getString("ssh_user_keys")));
        if (!keys.isEmpty()) {
            env = ssh.env(env, job, row.getString("ssh_user"));
        }
        return new VmLaunch(id, job, images.forArch(row.getString("image"), vmArch), row.getInt("cpus"),
                row.getLong("memory_mib"), row.getInt("disk_gib"), JobStore.read(row.getString("command"),
                new com.fasterxml.jackson.core.type.TypeReference<List<String>>() {}), env,
                row.getLong("timeout_s"), credential, vmArch.id(), keys);
    }

    public static Optional<String> hostOfVm(Tx tx, String vm) throws SQLException {
        return tx.queryOne("SELECT host FROM vms WHERE id = ?", row -> row.getString(1), vm);
    }

    /** Moves a VM to {@code state}; a VM that no longer holds room loses its launch credential. */
    static void setVm(Tx tx, String vm, VmState state, long now) throws SQLException {
        if (state.holdsRoom()) {
            tx.update("UPDATE vms SET state = ?, updated_at = ? WHERE id = ?", state, now, vm);
        } else {
            tx.update("UPDATE vms SET state = ?, updated_at = ?, credential = NULL WHERE id = ?", state, now, vm);
        }
    }

    /** Identifies what the host should have: its VMs, whether it drains, and the images it should prefetch. */
    private static String version(List<VmLaunch> vms, boolean draining, List<String> prefetch) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update((draining ? "draining\n" : "active\n").getBytes(StandardCharsets.UTF_8));
            for (VmLaunch vm : vms) {
                digest.update((vm.id() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            for (String image : prefetch) {
                digest.update(("prefetch " + image + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(digest.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
