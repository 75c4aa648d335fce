package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.github.DeleteOutcome;
import dev.kiln.github.GitHubApiException;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.JitRunner;
import dev.kiln.github.Runner;
import dev.kiln.github.RunnerScope;
import dev.kiln.server.Database;
import dev.kiln.server.DebugAccess;
import dev.kiln.server.Jobs;
import dev.kiln.server.LaunchCredentials;
import dev.kiln.server.Seal;
import dev.kiln.server.StoredJson;
import dev.kiln.server.Vms;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JIT configs of runner VMs. A config is minted when the launch is first built for the agent (not
 * when the job is queued, so that a demand released before it reaches a host registers nothing), named
 * {@code kiln-<vm id>}, with the job's labels plus {@code self-hosted} in the configured runner group; it
 * is kept sealed ({@link Seal}, in the VM's launch credential) so that every later launch of the VM carries the
 * same config, and dropped when the VM ends. Only the holder of the VM's claim ({@link LaunchCredentials}) mints, so replicas on
 * one PostgreSQL never register two runners for one VM. A host's VMs are read and claimed in one
 * transaction, minted at once and stored in one more, so that a burst costs the store two transactions per
 * sync rather than three per VM. Configs never reach a log, a message or an API answer.
 */
final class RunnerLaunches {
    private static final Logger log = LoggerFactory.getLogger(RunnerLaunches.class);
    /** GitHub allows 100 concurrent requests per App (ci-protocols.md §3.7): mints take at most half. */
    static final int MAX_CONCURRENT_MINTS = 50;

    private final Database db;
    private final GitHubApp github;
    private final Seal seal;
    private final InstantSource clock;
    private final Installations installations;
    private final LaunchCredentials claims = new LaunchCredentials();
    private final Semaphore mintSlots = new Semaphore(MAX_CONCURRENT_MINTS);
    private final boolean debugShells;

    /** A runner VM's demand as minting needs it. */
    private record Demand(String vm, String job, JobState state, VmState vmState, String host, long installationId,
            String owner, String repo, List<String> labels, boolean minted, String sender) {
        boolean mintable() {
            return !state.terminal() && vmState.holdsRoom() && vmState != VmState.STOPPING;
        }
    }

    /**
     * GitHub's architecture label for an arm64 runner ({@code ARM64}, as GitHub's own runners report it), after
     * the job's: a workflow that also asks for {@code ARM64} finds the runner, and the runner says what it is.
     */
    static final String ARM64_LABEL = "ARM64";

    static List<String> withArchLabel(List<String> labels, String jobArch, String hostArch) {
        Arch arch = Arch.parse(jobArch == null ? "any" : jobArch).orElse(Arch.ANY);
        Arch vmArch = arch == Arch.ANY ? Arch.parse(hostArch == null ? "x86_64" : hostArch).orElse(Arch.X86_64) : arch;
        if (vmArch != Arch.ARM64 || labels.stream().anyMatch(ARM64_LABEL::equalsIgnoreCase)) {
            return labels;
        }
        List<String> more = new ArrayList<>(labels);
        more.add(ARM64_LABEL);
        return more;
    }

    /** A runner GitHub registered for a claimed VM, to be stored, with the public keys of who triggered its job. */
    private record Minted(Demand demand, RunnerScope scope, JitRunner runner, List<String> senderKeys) {}

    /** @param debugShells whether the server runs an SSH gateway: then who triggered a job may debug its VM */
    RunnerLaunches(Database db, GitHubApp github, InstantSource clock, boolean debugShells) {
        this.debugShells = debugShells;
        this.db = requireNonNull(db, "db is null");
        this.github = requireNonNull(github, "github is null");
        this.clock = requireNonNull(clock, "clock is null");
        // Derived from the App's key, which every replica has and the database does not.
        this.seal = new Seal("kiln jit-config seal v1\n", github.config().privateKey().getEncoded());
        this.installations = new Installations(github, clock);
    }

    /** The config of a sealed row, or null when it cannot be opened. */
    String open(String sealed) {
        return sealed == null ? null : seal.open(sealed);
    }

    /**
     * Registers each VM's runner with GitHub unless it has one, and says which VMs have one now. The VMs this
     * call claims are minted at once on virtual threads (at most {@link #MAX_CONCURRENT_MINTS} of this
     * replica's mints ask GitHub together), so that a host's answer waits for its slowest mint, not for the
     * sum. A VM another sync (of this replica or another) has claimed is left to it: its store wakes the
     * host's syncs. A mint that fails is logged and retried at the next sync; a refusal that retrying cannot
     * cure (a permission, a label) fails the demand.
     */
    Set<String> ensureAll(List<String> vmIds) {
        if (vmIds.isEmpty()) {
            return Set.of();
        }
        long now = clock.millis();
        Set<String> registered = new HashSet<>();
        List<Demand> claimed = new ArrayList<>();
        db.tx(tx -> {
            // Claimed in one order by every caller, so that two replicas' claims never deadlock.
            for (String vm : vmIds.stream().sorted().distinct().toList()) {
                Optional<Demand> found = tx.queryOne("SELECT j.id, j.state, v.state AS vm_state, v.host, g.installation_id,"
                                + " g.owner, g.repo, g.labels, v.credential, j.arch, h.arch AS host_arch, g.sender FROM vms v"
                                + " JOIN jobs j ON j.id = v.job_id JOIN hosts h ON h.name = v.host"
                                + " JOIN github_demands d ON d.job_id = j.id JOIN github_jobs g ON g.id = d.gh_job_id WHERE v.id = ?",
                        row -> new Demand(vm, row.getString("id"), JobState.valueOf(row.getString("state")),
                                VmState.valueOf(row.getString("vm_state")), row.getString("host"), row.getLong("installation_id"),
                                row.getString("owner"), row.getString("repo"), withArchLabel(StoredJson.read(row.getString("labels"),
                                new com.fasterxml.jackson.core.type.TypeReference<List<String>>() {}), row.getString("arch"),
                                row.getString("host_arch")), row.getString("credential") != null, row.getString("sender")), vm);
                if (found.isPresent() && found.get().minted()) {
                    registered.add(vm);
                } else if (found.isPresent() && found.get().mintable()) {
                    switch (claims.claim(tx, vm, now)) {
                        case OURS -> claimed.add(found.get());
                        case ISSUED -> registered.add(vm);
                        case TAKEN -> { }
                    }
                }
            }
            return null;
        });
        List<Minted> minted = claims.renewing(db, clock, claimed.stream().map(Demand::vm).toList(), () -> mintAll(claimed));
        if (!minted.isEmpty()) {
            long stored = clock.millis();
            db.tx(tx -> {
                for (Minted m : minted) {
                    tx.update("INSERT INTO github_runners (vm_id, job_id, installation_id, scope, name, runner_id, minted_at)"
                                    + " VALUES (?, ?, ?, ?, ?, ?, ?)", m.demand().vm(), m.demand().job(),
                            m.demand().installationId(), m.scope().toString(), GitHubApp.runnerName(m.demand().vm()),
                            m.runner().runner().id(), stored);
                    if (debugShells && m.demand().sender() != null) {
                        DebugAccess.store(tx, m.demand().vm(), m.demand().sender(), m.senderKeys());
                    }
                    // Syncs of the host that found the VM claimed (here or on another replica) wake for this.
                    LaunchCredentials.store(tx, m.demand().vm(), seal.seal(m.runner().encodedJitConfig()));
                }
                return null;
            });
            for (Minted m : minted) {
                registered.add(m.demand().vm());
                log.info("job {}: runner {} registered in {} (runner id {}) for VM {} on {}", m.demand().job(),
                        GitHubApp.runnerName(m.demand().vm()), m.scope(), m.runner().runner().id(), m.demand().vm(), m.demand().host());
            }
        }
        return registered;
    }

    /** Mints each claimed VM's runner, at once; the ones that failed are left out (their claims released). */
    private List<Minted> mintAll(List<Demand> claimed) {
        if (claimed.size() == 1) {
            return register(claimed.getFirst()).map(List::of).orElse(List.of());
        }
        List<Future<Optional<Minted>>> mints = new ArrayList<>();
        try (ExecutorService each = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("kiln-mint-", 0).factory())) {
            for (Demand demand : claimed) {
                mints.add(each.submit(() -> register(demand)));
            }
        }
        List<Minted> minted = new ArrayList<>();
        for (Future<Optional<Minted>> mint : mints) {
            try {
                mint.get().ifPresent(minted::add);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException("a mint failed", e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KilnException(ErrorCode.CANCELLED, "interrupted while minting runners for " + claimed.size() + " VMs", e);
            }
        }
        return minted;
    }

    /** Mints the claimed VM's runner; on failure the claim is released for a later sync. */
    private Optional<Minted> register(Demand demand) {
        String name = GitHubApp.runnerName(demand.vm());
        try {
            mintSlots.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            claims.release(db, demand.vm());
            return Optional.empty();
        }
        try {
            RunnerScope scope = github.scopeFor(installations.get(demand.installationId()), demand.owner(), demand.repo());
            JitRunner runner = mint(demand, scope, name);
            return Optional.of(new Minted(demand, scope, runner, senderKeys(demand)));
        } catch (KilnException e) {
            claims.release(db, demand.vm());
            if (GitHubApiException.heldBack(e)) {
                log.debug("job {}: runner {} for VM {} waits: {}", demand.job(), name, demand.vm(), e.getMessage());
                return Optional.empty();
            }
            boolean permanent = e.code().kind() == ErrorCode.Kind.USER_ERROR && e.code() != ErrorCode.UNAUTHENTICATED;
            log.warn("job {}: cannot register runner {} for VM {}: {}{}", demand.job(), name, demand.vm(), e.getMessage(),
                    permanent ? "; the demand fails" : "; retried at the next sync");
            if (permanent) {
                fail(demand, "GitHub refused runner " + name + ": " + e.getMessage(), e.code());
            }
            return Optional.empty();
        } finally {
            mintSlots.release();
        }
    }

    /**
     * The public keys GitHub holds for who triggered the demand's job, which may then open a debugging shell in its
     * VM; none when unknown or when GitHub cannot say now (the runner still launches: only the shell is missing).
     */
    private List<String> senderKeys(Demand demand) {
        if (!debugShells || demand.sender() == null) {
            return List.of();
        }
        try {
            return github.userKeys(demand.installationId(), demand.sender());
        } catch (KilnException e) {
            log.warn("job {}: cannot read the SSH keys of {} from GitHub, who may not debug VM {}: {}", demand.job(),
                    demand.sender(), demand.vm(), e.getMessage());
            return List.of();
        }
    }

    /** Mints; a runner of that name left from an earlier attempt (409) is removed unless busy, then minted again. */
    private JitRunner mint(Demand demand, RunnerScope scope, String name) {
        try {
            return github.generateJitConfig(demand.installationId(), scope, name, demand.labels());
        } catch (GitHubApiException e) {
            if (e.status() != 409) {
                throw e;
            }
            for (Runner old : github.runners(demand.installationId(), scope, Optional.of(name))) {
                if (github.deleteRunner(demand.installationId(), scope, old.id()) == DeleteOutcome.BUSY) {
                    throw new KilnException(ErrorCode.CONFLICT, "runner " + name + " exists in " + scope + " and is busy");
                }
            }
            return github.generateJitConfig(demand.installationId(), scope, name, demand.labels());
        }
    }

    private void fail(Demand demand, String why, ErrorCode code) {
        long now = clock.millis();
        db.tx(tx -> {
            Vms.fail(tx, demand.vm(), now);
            Jobs.move(tx, demand.job(), new JobChange.Rejected(code, why), now);
            return null;
        });
    }
}
