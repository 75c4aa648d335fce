package dev.kiln.server;

import dev.kiln.core.WaitReason;
import java.util.Map;
import java.util.Optional;

/**
 * Why each queued job waited at the last scheduling pass of this server, as the scheduler said: the queue page puts
 * it in words. Kept in memory, not stored: it changes at every pass, and writing it would cost a write per queued job
 * and pass. On several replicas each knows the reasons of the passes it ran (any replica's pass sees the whole queue).
 */
public final class WaitReasons {
    private volatile Map<String, WaitReason> last = Map.of();

    void update(Map<String, WaitReason> reasons) {
        last = Map.copyOf(reasons);
    }

    /** Why the job waited at the last pass; empty when no pass of this server saw it wait. */
    public Optional<WaitReason> of(String job) {
        return Optional.ofNullable(last.get(job));
    }
}
