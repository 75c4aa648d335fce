package dev.kiln.server.gitlab;

import static java.util.Objects.requireNonNull;

import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import java.time.Duration;

/**
 * How the server serves GitLab: the instance's config and client, and the runner VMs' image and timings.
 *
 * @param runnerImage the image runner VMs boot (it must carry gitlab-runner; default {@code runner})
 * @param reconcileInterval how often GitLab's pending jobs are compared with Kiln's demands (default 1 min; also at
 *     start): Job Hooks carry no tags, and a lost hook is caught here
 * @param tick how often the GitLab loop looks at the clock (default 1 s)
 * @param runnerTimeout a runner VM's hard deadline (default 6 h)
 * @param launchDeadline a runner VM whose runner could not be made this long after it was reserved gives its room
 *     back and its demand is queued again after a backoff (default 2 min)
 * @param hookRetention stored hooks are removed this long after they came (default 14 days)
 */
public record GitLabSettings(GitLabConfig config, GitLabClient client, String runnerImage, Duration reconcileInterval,
        Duration tick, Duration runnerTimeout, Duration launchDeadline, Duration hookRetention) {
    public GitLabSettings {
        requireNonNull(config, "config is null");
        requireNonNull(client, "client is null");
        requireNonNull(runnerImage, "runnerImage is null");
        for (Duration d : new Duration[] {reconcileInterval, tick, runnerTimeout, launchDeadline, hookRetention}) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException("GitLab timings must be positive: reconcileInterval " + reconcileInterval
                        + ", tick " + tick + ", runnerTimeout " + runnerTimeout + ", launchDeadline " + launchDeadline
                        + ", hookRetention " + hookRetention);
            }
        }
    }

    public static GitLabSettings defaults(GitLabConfig config, GitLabClient client) {
        return new GitLabSettings(config, client, "runner", Duration.ofMinutes(1), Duration.ofSeconds(1), Duration.ofHours(6),
                Duration.ofMinutes(2), Duration.ofDays(14));
    }

    public GitLabSettings withRunnerImage(String image) {
        return new GitLabSettings(config, client, image, reconcileInterval, tick, runnerTimeout, launchDeadline, hookRetention);
    }

    public GitLabSettings withTick(Duration newTick) {
        return new GitLabSettings(config, client, runnerImage, reconcileInterval, newTick, runnerTimeout, launchDeadline, hookRetention);
    }

    public GitLabSettings withReconcileInterval(Duration interval) {
        return new GitLabSettings(config, client, runnerImage, interval, tick, runnerTimeout, launchDeadline, hookRetention);
    }
}
