package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.JobState;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.github.DeleteOutcome;
import dev.kiln.github.GitHubApiException;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.Installation;
import dev.kiln.github.JitRunner;
import dev.kiln.github.Runner;
import dev.kiln.github.RunnerScope;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JIT configs of runner VMs. A config is minted when the launch is first built for the agent (not
 * when the job is queued, so that a demand released before it reaches a host registers nothing), named
 * {@code kiln-<vm id>}, with the job's labels plus {@code self-hosted} in the configured runner group; it
 * is kept sealed ({@link JitSeal}) so that every later launch of the VM carries the same config, and
 * dropped when the VM ends. Only the holder of the VM's claim in the database mints, so replicas on one
 * PostgreSQL never register two runners for one VM. Configs never reach a log, a message or an API answer.
 */
final class RunnerLaunches {
    private static final Logger log = LoggerFactory.getLogger(RunnerLaunches.class);
    private static final Duration INSTALLATION_CACHE = Duration.ofMinutes(10);
    /**
     * A claim outlives the longest mint (five attempts, each waiting at most GitHub's 30 s timeout and Kiln's
     * 2 min rate-limit wait); one whose replica died expires after it, and another replica mints.
     */
    static final Duration CLAIM_LEASE = Duration.ofMinutes(15);

    private final Database db;
    private final GitHubApp github;
    private final JitSeal seal;
    private final InstantSource clock;
    private final Map<Long, Cached> installations = new ConcurrentHashMap<>();
    /** This instance in claims, so that it releases only its own. */
    private final String replica = Tokens.newId("mint-");

    private record Cached(Installation installation, Instant at) {}

    /** A runner VM's demand as minting needs it. */
    private record Demand(String job, JobState state, VmState vm, String host, long installationId, String owner,
            String repo, List<String> labels, boolean minted) {}

    RunnerLaunches(Database db, GitHubApp github, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.github = requireNonNull(github, "github is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.seal = new JitSeal(github.config().privateKey());
    }

    /** The config of a sealed row, or null when it cannot be opened. */
    String open(String sealed) {
        return sealed == null ? null : seal.open(sealed);
    }

    /**
     * Registers the VM's runner with GitHub unless it has one; false when it could not (logged, and retried
     * at the next sync) or when another sync, of this replica or another, is registering it now (that one's
     * store wakes the host's syncs). A refusal that retrying cannot cure (a permission, a label) fails the
     * demand.
     */
    boolean ensure(String vmId) {
        Optional<Demand> found = db.tx(tx -> tx.queryOne("SELECT j.id, j.state, v.state AS vm_state, v.host,"
                        + " g.installation_id, g.owner, g.repo, g.labels, r.jit_config FROM vms v JOIN jobs j ON j.id = v.job_id"
                        + " JOIN github_jobs g ON g.id = j.gh_job_id LEFT JOIN github_runners r ON r.vm_id = v.id WHERE v.id = ?",
                row -> new Demand(row.getString("id"),
                        JobState.valueOf(row.getString("state")), VmState.valueOf(row.getString("vm_state")),
                        row.getString("host"), row.getLong("installation_id"), row.getString("owner"), row.getString("repo"),
                        JobStore.read(row.getString("labels"), new com.fasterxml.jackson.core.type.TypeReference<List<String>>() {}),
                        row.getString("jit_config") != null), vmId));
        if (found.isEmpty() || found.get().minted()) {
            return found.isPresent();
        }
        Demand demand = found.get();
        if (demand.state().terminal() || !demand.vm().holdsRoom() || demand.vm() == VmState.STOPPING) {
            return false;
        }
        Claim claim = claim(vmId);
        if (claim != Claim.OURS) {
            return claim == Claim.MINTED;
        }
        String name = GitHubApp.runnerName(vmId);
        try {
            RunnerScope scope = github.scopeFor(installation(demand.installationId()), demand.owner(), demand.repo());
            JitRunner runner = mint(demand, scope, name);
            long now = clock.millis();
            db.tx(tx -> {
                tx.update("INSERT INTO github_runners (vm_id, job_id, installation_id, scope, name, runner_id, jit_config,"
                                + " minted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", vmId, demand.job(), demand.installationId(),
                        scope.toString(), name, runner.runner().id(), seal.seal(runner.encodedJitConfig()), now);
                tx.update("DELETE FROM github_runner_claims WHERE vm_id = ?", vmId);
                // Syncs of the host that found the VM claimed (here or on another replica) wait for this.
                tx.desiredChanged(demand.host());
                return null;
            });
            log.info("job {}: runner {} registered in {} (runner id {}) for VM {} on {}", demand.job(), name, scope,
                    runner.runner().id(), vmId, demand.host());
            return true;
        } catch (KilnException e) {
            db.tx(tx -> tx.update("DELETE FROM github_runner_claims WHERE vm_id = ? AND claimed_by = ?", vmId, replica));
            if (e instanceof GitHubApiException held && held.notSent()) {
                // GitHub is failing or rate-limited: the call that found out was logged; this one only waits.
                log.debug("job {}: runner {} for VM {} waits: {}", demand.job(), name, vmId, e.getMessage());
                return false;
            }
            boolean permanent = e.code().kind() == ErrorCode.Kind.USER_ERROR && e.code() != ErrorCode.UNAUTHENTICATED;
            log.warn("job {}: cannot register runner {} for VM {}: {}{}", demand.job(), name, vmId, e.getMessage(),
                    permanent ? "; the demand fails" : "; retried at the next sync");
            if (permanent) {
                fail(demand, vmId, "GitHub refused runner " + name + ": " + e.getMessage(), e.code());
            }
            return false;
        }
    }

    /** Who mints a VM's runner: this call, another one now, or nobody since one stored it. */
    private enum Claim { OURS, TAKEN, MINTED }

    /**
     * Claims the VM for this call in the database: a claim row, or one whose replica let it expire. Within
     * the claim's transaction a runner stored meanwhile (by the claim's previous holder) is seen.
     */
    private Claim claim(String vmId) {
        long now = clock.millis();
        return db.tx(tx -> {
            boolean ours = tx.update("INSERT INTO github_runner_claims (vm_id, claimed_by, expires_at) VALUES (?, ?, ?)"
                    + " ON CONFLICT (vm_id) DO NOTHING", vmId, replica, now + CLAIM_LEASE.toMillis()) == 1
                    || tx.update("UPDATE github_runner_claims SET claimed_by = ?, expires_at = ? WHERE vm_id = ? AND expires_at <= ?",
                    replica, now + CLAIM_LEASE.toMillis(), vmId, now) == 1;
            if (!ours) {
                return Claim.TAKEN;
            }
            if (tx.queryOne("SELECT 1 FROM github_runners WHERE vm_id = ?", row -> row.getInt(1), vmId).isPresent()) {
                tx.update("DELETE FROM github_runner_claims WHERE vm_id = ?", vmId);
                return Claim.MINTED;
            }
            return Claim.OURS;
        });
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

    private Installation installation(long id) {
        Cached cached = installations.get(id);
        if (cached != null && clock.instant().isBefore(cached.at().plus(INSTALLATION_CACHE))) {
            return cached.installation();
        }
        Installation installation = github.installation(id);
        installations.put(id, new Cached(installation, clock.instant()));
        return installation;
    }

    private void fail(Demand demand, String vmId, String why, ErrorCode code) {
        long now = clock.millis();
        db.tx(tx -> {
            SyncStore.setVm(tx, vmId, VmState.FAILED, now);
            tx.desiredChanged(demand.host());
            tx.signal(Signals.SCHEDULE);
            tx.update("UPDATE jobs SET error_code = ?, detail = ? WHERE id = ?", code, why, demand.job());
            JobStore.transition(tx, demand.job(), JobState.FAILED, why, now);
            return null;
        });
    }
}
