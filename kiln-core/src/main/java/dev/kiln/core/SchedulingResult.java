package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.util.List;
import java.util.Optional;

/**
 * The outcome of one scheduling pass: every queued job is in exactly one list. Placements are in the
 * order they were decided (priority, then arrival).
 */
public record SchedulingResult(List<Placement> placements, List<Rejection> rejections, List<Waiting> waiting) {
    public SchedulingResult {
        placements = List.copyOf(requireNonNull(placements, "placements is null"));
        rejections = List.copyOf(requireNonNull(rejections, "rejections is null"));
        waiting = List.copyOf(requireNonNull(waiting, "waiting is null"));
    }

    /** The job goes to the host: reserve it there before the agent hears of it. */
    public record Placement(JobId job, HostId host) {
        public Placement {
            requireNonNull(job, "job is null");
            requireNonNull(host, "host is null");
        }
    }

    /** No registered host could ever hold the job; it fails at once with the reason. */
    public record Rejection(JobId job, String reason) {
        public Rejection {
            requireNonNull(job, "job is null");
            requireNonNull(reason, "reason is null");
        }
    }

    /** The job stays queued. */
    public record Waiting(JobId job, WaitReason reason) {
        public Waiting {
            requireNonNull(job, "job is null");
            requireNonNull(reason, "reason is null");
        }
    }

    public Optional<HostId> hostOf(JobId job) {
        return placements.stream().filter(p -> p.job().equals(job)).map(Placement::host).findFirst();
    }

    public Optional<WaitReason> waitReasonOf(JobId job) {
        return waiting.stream().filter(w -> w.job().equals(job)).map(Waiting::reason).findFirst();
    }

    public Optional<String> rejectionOf(JobId job) {
        return rejections.stream().filter(r -> r.job().equals(job)).map(Rejection::reason).findFirst();
    }
}
