package dev.kiln.server.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.gitlab.CreatedRunner;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.server.Database;
import dev.kiln.server.Jobs;
import dev.kiln.server.LaunchCredentials;
import dev.kiln.server.Seal;
import dev.kiln.server.StoredJson;
import dev.kiln.server.Vms;
import java.net.URI;
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
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The runners of GitLab demands' VMs: one made per VM when its launch first goes to its agent ({@code POST
 * /user/runners} in the job's project with the job's tags and {@code run_untagged=false}), its credential (the
 * instance URL the VMs reach and the {@code glrt-} token) kept sealed under a key derived from the access token,
 * which the database does not hold, and deleted from GitLab once the VM no longer holds room. Only the holder of a
 * VM's claim makes its runner, so replicas never make two. Tokens never reach a log, a message or an API answer.
 */
final class GitLabRunners {
    private static final Logger log = LoggerFactory.getLogger(GitLabRunners.class);
    // Longer than a deletion's retries last (GitLabClient.MAX_WAIT): a lease runs out only when its holder is gone.
    private static final java.time.Duration DELETION_LEASE = GitLabClient.MAX_WAIT.multipliedBy(2);

    private final Database db;
    private final GitLabClient gitlab;
    private final URI runnerUrl;
    private final Seal seal;
    private final InstantSource clock;
    private final LaunchCredentials claims = new LaunchCredentials();
    private final AtomicReference<String> lastFailure = new AtomicReference<>();

    private record Demand(String vm, String job, JobState state, VmState vmState, long projectId, List<String> tags, boolean issued) {
        boolean issuable() {
            return !state.terminal() && vmState.holdsRoom() && vmState != VmState.STOPPING;
        }
    }

    private record Made(Demand demand, CreatedRunner runner) {}

    GitLabRunners(Database db, GitLabClient gitlab, URI runnerUrl, String accessToken, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.gitlab = requireNonNull(gitlab, "gitlab is null");
        this.runnerUrl = requireNonNull(runnerUrl, "runnerUrl is null");
        this.seal = new Seal("kiln gitlab runner seal v1\n", accessToken.getBytes(UTF_8));
        this.clock = requireNonNull(clock, "clock is null");
    }

    String open(String sealed) {
        return sealed == null ? null : seal.open(sealed);
    }

    /** Why runners cannot be made now, or empty when the last attempt worked. */
    Optional<String> unavailable() {
        return Optional.ofNullable(lastFailure.get());
    }

    /** Makes a runner for each claimable VM that has none, at once on virtual threads; says which VMs have one. */
    Set<String> ensureAll(List<String> vmIds) {
        if (vmIds.isEmpty()) {
            return Set.of();
        }
        long now = clock.millis();
        Set<String> issued = new HashSet<>();
        List<Demand> claimed = new ArrayList<>();
        db.tx(tx -> {
            for (String vm : vmIds.stream().sorted().distinct().toList()) {
                Optional<Demand> found = tx.queryOne("SELECT j.id, j.state, v.state AS vm_state, g.project_id, g.tags, v.credential"
                                + " FROM vms v JOIN jobs j ON j.id = v.job_id JOIN gitlab_jobs g ON g.demand = j.id WHERE v.id = ?",
                        row -> new Demand(vm, row.getString("id"), JobState.valueOf(row.getString("state")),
                                VmState.valueOf(row.getString("vm_state")), row.getLong("project_id"),
                                StoredJson.read(row.getString("tags"), new TypeReference<List<String>>() {}),
                                row.getString("credential") != null), vm);
                if (found.isPresent() && found.get().issued()) {
                    issued.add(vm);
                } else if (found.isPresent() && found.get().issuable()) {
                    switch (claims.claim(tx, vm, now)) {
                        case OURS -> claimed.add(found.get());
                        case ISSUED -> issued.add(vm);
                        case TAKEN -> { }
                    }
                }
            }
            return null;
        });
        List<Made> made = claims.renewing(db, clock, claimed.stream().map(Demand::vm).toList(), () -> makeAll(claimed));
        if (!made.isEmpty()) {
            long stored = clock.millis();
            List<Made> orphans = new ArrayList<>();
            db.tx(tx -> {
                orphans.clear();
                for (Made m : made) {
                    tx.update("INSERT INTO gitlab_runners (vm_id, demand, runner_id, project_id, created_at) VALUES (?, ?, ?, ?, ?)",
                            m.demand().vm(), m.demand().job(), m.runner().id(), m.demand().projectId(), stored);
                    if (!LaunchCredentials.store(tx, m.demand().vm(), seal.seal(m.runner().credential(runnerUrl)))) {
                        orphans.add(m); // the VM stopped holding room meanwhile: the clean-up deletes the runner
                    }
                }
                return null;
            });
            for (Made m : made) {
                if (!orphans.contains(m)) {
                    issued.add(m.demand().vm());
                }
                log.info("job {}: GitLab runner {} made in project {} with tags {} for VM {}", m.demand().job(), m.runner().id(),
                        m.demand().projectId(), m.demand().tags(), m.demand().vm());
            }
        }
        return issued;
    }

    private List<Made> makeAll(List<Demand> claimed) {
        List<Future<Optional<Made>>> pending = new ArrayList<>();
        try (ExecutorService each = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("kiln-gitlab-runner-", 0).factory())) {
            for (Demand demand : claimed) {
                pending.add(each.submit(() -> make(demand)));
            }
        }
        List<Made> made = new ArrayList<>();
        for (Future<Optional<Made>> f : pending) {
            try {
                f.get().ifPresent(made::add);
            } catch (ExecutionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException("making a runner failed", e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KilnException(ErrorCode.CANCELLED, "interrupted while making runners for " + claimed.size() + " VMs", e);
            }
        }
        return made;
    }

    /** Makes the claimed VM's runner; on failure the claim is released for a later sync, or the demand fails for good. */
    private Optional<Made> make(Demand demand) {
        try {
            CreatedRunner runner = gitlab.createProjectRunner(demand.projectId(), demand.tags(), "kiln-" + demand.vm());
            lastFailure.set(null);
            return Optional.of(new Made(demand, runner));
        } catch (KilnException e) {
            claims.release(db, demand.vm());
            boolean permanent = e.code().kind() == ErrorCode.Kind.USER_ERROR && e.code() != ErrorCode.UNAUTHENTICATED
                    && e.code() != ErrorCode.RATE_LIMITED;
            lastFailure.set(e.getMessage());
            log.warn("job {}: cannot make a GitLab runner for VM {}: {}{}", demand.job(), demand.vm(), e.getMessage(),
                    permanent ? "; the demand fails" : "; tried again at the next sync");
            if (permanent) {
                long now = clock.millis();
                db.tx(tx -> {
                    Vms.fail(tx, demand.vm(), now);
                    Jobs.move(tx, demand.job(), new JobChange.Rejected(e.code(), "GitLab refused a runner: " + e.getMessage()), now);
                    return null;
                });
            }
            return Optional.empty();
        }
    }

    /**
     * Deletes from GitLab the runners whose VM no longer holds room (ended, failed, stopped), a batch per call. Each
     * deletion is leased first ({@code deleting_until}), so that of the replicas cleaning up at once one deletes each
     * runner; a replica killed between the lease and the deletion leaves a lease that expires, and another deletes it.
     */
    int deleteEnded(int limit) {
        record Ended(String vm, long runnerId) {}
        long leased = clock.millis();
        List<Ended> ended = db.tx(tx -> {
            List<Ended> found = new ArrayList<>();
            for (Ended e : tx.query("SELECT vm_id, runner_id FROM gitlab_runners WHERE deleted_at IS NULL"
                            + " AND (deleting_until IS NULL OR deleting_until < ?) ORDER BY created_at LIMIT ?",
                    row -> new Ended(row.getString(1), row.getLong(2)), leased, limit * 4)) {
                if (found.size() < limit && !Vms.live(tx, e.vm())
                        && tx.update("UPDATE gitlab_runners SET deleting_until = ? WHERE vm_id = ? AND deleted_at IS NULL"
                                + " AND (deleting_until IS NULL OR deleting_until < ?)", leased + DELETION_LEASE.toMillis(), e.vm(), leased) == 1) {
                    found.add(e);
                }
            }
            return found;
        });
        int deleted = 0;
        for (Ended e : ended) {
            boolean existed = gitlab.deleteRunner(e.runnerId());
            long now = clock.millis();
            db.tx(tx -> tx.update("UPDATE gitlab_runners SET deleted_at = ?, deleting_until = NULL WHERE vm_id = ?", now, e.vm()));
            log.info("GitLab runner {} of VM {} {}", e.runnerId(), e.vm(), existed ? "deleted" : "was gone already");
            deleted++;
        }
        return deleted;
    }
}
