package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.github.GitHubApp;
import java.time.Duration;

/**
 * How the server serves GitHub: the App client, and the runner VMs' image and timings.
 *
 * @param runnerImage the image runner VMs boot (a name the server's images resolve, default {@code runner})
 * @param idleTimeout a runner that took no job this long after it was registered is removed with its VM (default 5 min)
 * @param reconcileInterval how often GitHub's queued jobs are compared with Kiln's demands (default 3 min; also at start)
 * @param tick how often the GitHub loop looks at the clock (default 1 s)
 * @param runnerTimeout a runner VM's hard deadline (default 6 h)
 * @param launchDeadline a runner VM whose runner could not be registered this long after it was reserved (GitHub
 *     unreachable, say) gives its room back and its demand is queued again after a backoff (default 2 min)
 * @param deliveryRetention stored webhook deliveries are removed this long after they came (default 14 days)
 */
public record GitHubSettings(GitHubApp app, String runnerImage, Duration idleTimeout, Duration reconcileInterval,
        Duration tick, Duration runnerTimeout, Duration launchDeadline, Duration deliveryRetention) {
    public static final Duration DEFAULT_DELIVERY_RETENTION = Duration.ofDays(14);

    public GitHubSettings {
        requireNonNull(app, "app is null");
        requireNonNull(runnerImage, "runnerImage is null");
        requireNonNull(idleTimeout, "idleTimeout is null");
        requireNonNull(reconcileInterval, "reconcileInterval is null");
        requireNonNull(tick, "tick is null");
        requireNonNull(runnerTimeout, "runnerTimeout is null");
        requireNonNull(launchDeadline, "launchDeadline is null");
        requireNonNull(deliveryRetention, "deliveryRetention is null");
        for (Duration d : new Duration[] {idleTimeout, reconcileInterval, tick, runnerTimeout, launchDeadline, deliveryRetention}) {
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("GitHub timings must be positive: idleTimeout " + idleTimeout
                        + ", reconcileInterval " + reconcileInterval + ", tick " + tick + ", runnerTimeout " + runnerTimeout
                        + ", launchDeadline " + launchDeadline + ", deliveryRetention " + deliveryRetention);
            }
        }
    }

    public static GitHubSettings defaults(GitHubApp app) {
        return new GitHubSettings(app, "runner", Duration.ofMinutes(5), Duration.ofMinutes(3), Duration.ofSeconds(1),
                Duration.ofHours(6), Duration.ofMinutes(2), DEFAULT_DELIVERY_RETENTION);
    }

    public GitHubSettings withTick(Duration newTick) {
        return new GitHubSettings(app, runnerImage, idleTimeout, reconcileInterval, newTick, runnerTimeout, launchDeadline,
                deliveryRetention);
    }

    public GitHubSettings withRunnerImage(String image) {
        return new GitHubSettings(app, image, idleTimeout, reconcileInterval, tick, runnerTimeout, launchDeadline,
                deliveryRetention);
    }

    public GitHubSettings withDeliveryRetention(Duration retention) {
        return new GitHubSettings(app, runnerImage, idleTimeout, reconcileInterval, tick, runnerTimeout, launchDeadline,
                retention);
    }
}
