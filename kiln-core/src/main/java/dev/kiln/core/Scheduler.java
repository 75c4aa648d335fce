package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decides which queued jobs go to which hosts. Pure: it reads the queue and the hosts with their
 * reservations and returns decisions; the caller writes each reservation in the same transaction that
 * reads this input.
 *
 * <p>The rules of a pass:
 * <ul>
 *   <li>A job that no registered host could ever hold, whatever the host's state, is rejected with a
 *       reason that names the largest host. With no host registered at all, jobs wait instead.
 *   <li>Jobs are taken highest priority first, FIFO (by sequence) within a priority.
 *   <li>A job whose organisation or repository is at its concurrency limit waits; reserved and running
 *       jobs on every host count, and so do placements earlier in the pass.
 *   <li>Only ACTIVE hosts receive jobs, of a matching arch ({@link Arch#ANY} matches both). Memory and
 *       disk are never over-committed; vCPUs up to the configured ratio, and never more vCPUs for one
 *       job than its host has.
 *   <li>Among the hosts with room the {@link PlacementStrategy} picks one.
 *   <li>A job that does not fit now does not stop later jobs that do fit (backfill): strict FIFO would
 *       idle a host because the head job is large. So that a large job is not starved by a stream of
 *       small ones, once it has waited {@link SchedulerConfig#holdHostsAfter()} every active host that
 *       could hold it takes no job queued behind it; those hosts drain until it fits. Jobs that fit only
 *       on other hosts (another arch, smaller hosts) still go there.
 * </ul>
 */
public final class Scheduler {
    private static final Comparator<PendingJob> QUEUE_ORDER = Comparator
            .comparingInt(PendingJob::priority).reversed()
            .thenComparingLong(PendingJob::sequence)
            .thenComparing(job -> job.id().value());

    private final SchedulerConfig config;
    private final InstantSource clock;

    public Scheduler(SchedulerConfig config, InstantSource clock) {
        this.config = requireNonNull(config, "config is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    public SchedulerConfig config() {
        return config;
    }

    /**
     * One pass over the queue.
     *
     * @param queue the queued jobs, in any order
     * @param hosts every registered host, whatever its state, with its reserved and running jobs
     * @throws IllegalArgumentException when a job or host is listed twice, or a queued job is also
     *     allocated on a host
     */
    public SchedulingResult schedule(List<PendingJob> queue, List<Host> hosts) {
        requireNonNull(queue, "queue is null");
        requireNonNull(hosts, "hosts is null");
        Instant now = clock.instant();
        Fleet fleet = new Fleet(hosts, config.vcpuOvercommit());
        Map<String, Integer> byOrg = new HashMap<>();
        Map<String, Integer> byRepo = new HashMap<>();
        Map<JobId, HostId> allocated = new HashMap<>();
        for (Host host : hosts) {
            for (Allocation allocation : host.allocations()) {
                HostId other = allocated.put(allocation.job(), host.id());
                if (other != null) {
                    throw new IllegalArgumentException(
                            "job " + allocation.job() + " is allocated on both " + other + " and " + host.id());
                }
                byOrg.merge(ConcurrencyLimits.key(allocation.org()), 1, Integer::sum);
                byRepo.merge(ConcurrencyLimits.key(allocation.repo()), 1, Integer::sum);
            }
        }
        List<PendingJob> ordered = new ArrayList<>(queue);
        ordered.sort(QUEUE_ORDER);
        checkDistinct(ordered, allocated);

        List<SchedulingResult.Placement> placements = new ArrayList<>();
        List<SchedulingResult.Rejection> rejections = new ArrayList<>();
        List<SchedulingResult.Waiting> waiting = new ArrayList<>();
        // Sizes that found no room in this pass, and why. Room only shrinks as the pass goes on, so the
        // answer holds until hosts are newly held, which can turn CAPACITY into HELD_FOR_EARLIER_JOB.
        Map<Size, WaitReason> noRoom = new HashMap<>();
        // Sizes that have had hosts held for them: a later job of the same size would hold nothing new.
        Set<Size> heldFor = new HashSet<>();
        for (PendingJob job : ordered) {
            Size size = job.size();
            Optional<String> never = fleet.neverFits(size);
            if (never.isPresent()) {
                rejections.add(new SchedulingResult.Rejection(job.id(), "job " + job.id() + " " + never.get()));
                continue;
            }
            String org = ConcurrencyLimits.key(job.org());
            String repo = ConcurrencyLimits.key(job.repo());
            if (byOrg.getOrDefault(org, 0) >= config.limits().forOrg(org)) {
                waiting.add(new SchedulingResult.Waiting(job.id(), WaitReason.ORG_LIMIT));
                continue;
            }
            if (byRepo.getOrDefault(repo, 0) >= config.limits().forRepo(repo)) {
                waiting.add(new SchedulingResult.Waiting(job.id(), WaitReason.REPO_LIMIT));
                continue;
            }
            if (!fleet.activeCouldHold(size)) {
                waiting.add(new SchedulingResult.Waiting(job.id(), WaitReason.NO_ACTIVE_HOST));
                continue;
            }
            Fleet.Bin bin = noRoom.containsKey(size) ? null : fleet.choose(size, config.strategy());
            if (bin == null) {
                if (hasWaitedTooLong(job, now) && heldFor.add(size) && fleet.holdFor(size)) {
                    noRoom.clear();
                }
                WaitReason reason = noRoom.computeIfAbsent(size,
                        s -> fleet.heldBinFits(s) ? WaitReason.HELD_FOR_EARLIER_JOB : WaitReason.CAPACITY);
                waiting.add(new SchedulingResult.Waiting(job.id(), reason));
                continue;
            }
            fleet.place(bin, size);
            byOrg.merge(org, 1, Integer::sum);
            byRepo.merge(repo, 1, Integer::sum);
            placements.add(new SchedulingResult.Placement(job.id(), bin.host.id()));
        }
        return new SchedulingResult(placements, rejections, waiting);
    }

    private boolean hasWaitedTooLong(PendingJob job, Instant now) {
        return Duration.between(job.enqueuedAt(), now).compareTo(config.holdHostsAfter()) >= 0;
    }

    private static void checkDistinct(List<PendingJob> ordered, Map<JobId, HostId> allocated) {
        Map<JobId, PendingJob> seen = new HashMap<>();
        for (PendingJob job : ordered) {
            if (seen.put(job.id(), job) != null) {
                throw new IllegalArgumentException("job " + job.id() + " is queued twice");
            }
            HostId host = allocated.get(job.id());
            if (host != null) {
                throw new IllegalArgumentException("job " + job.id() + " is queued and also allocated on host " + host);
            }
        }
    }
}
