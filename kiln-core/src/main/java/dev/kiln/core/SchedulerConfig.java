package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.time.Duration;

/**
 * The scheduler's settings.
 *
 * @param strategy how a host is chosen among those that fit
 * @param vcpuOvercommit how many vCPUs may be reserved per physical vCPU (2.0: a host with 8 may
 *     reserve 16); from 1.0 to 16.0. Memory and disk are never over-committed, and no single job may
 *     have more vCPUs than its host has.
 * @param limits concurrency limits per organisation and repository
 * @param holdHostsAfter how long a job may wait for room while later, smaller jobs are placed past it;
 *     once it has waited this long, the active hosts that could hold it take no job queued behind it
 *     until it is placed. {@link Duration#ZERO} gives strict FIFO within a priority.
 */
public record SchedulerConfig(PlacementStrategy strategy, double vcpuOvercommit, ConcurrencyLimits limits,
        Duration holdHostsAfter) {
    public static final double MAX_VCPU_OVERCOMMIT = 16.0;
    public static final Duration DEFAULT_HOLD_HOSTS_AFTER = Duration.ofMinutes(5);

    public SchedulerConfig {
        requireNonNull(strategy, "strategy is null");
        requireNonNull(limits, "limits is null");
        requireNonNull(holdHostsAfter, "holdHostsAfter is null");
        if (!(vcpuOvercommit >= 1.0 && vcpuOvercommit <= MAX_VCPU_OVERCOMMIT)) {
            throw new IllegalArgumentException(
                    "vcpuOvercommit must be from 1.0 to " + MAX_VCPU_OVERCOMMIT + ", got " + vcpuOvercommit);
        }
        if (holdHostsAfter.isNegative()) {
            throw new IllegalArgumentException("holdHostsAfter must not be negative, got " + holdHostsAfter);
        }
    }

    /** Best fit, no vCPU over-commit, no concurrency limits, hosts held after 5 minutes. */
    public static SchedulerConfig defaults() {
        return new SchedulerConfig(PlacementStrategy.BEST_FIT, 1.0, ConcurrencyLimits.unlimited(),
                DEFAULT_HOLD_HOSTS_AFTER);
    }

    public SchedulerConfig withStrategy(PlacementStrategy newStrategy) {
        return new SchedulerConfig(newStrategy, vcpuOvercommit, limits, holdHostsAfter);
    }

    public SchedulerConfig withVcpuOvercommit(double ratio) {
        return new SchedulerConfig(strategy, ratio, limits, holdHostsAfter);
    }

    public SchedulerConfig withLimits(ConcurrencyLimits newLimits) {
        return new SchedulerConfig(strategy, vcpuOvercommit, newLimits, holdHostsAfter);
    }

    public SchedulerConfig withHoldHostsAfter(Duration wait) {
        return new SchedulerConfig(strategy, vcpuOvercommit, limits, wait);
    }
}
