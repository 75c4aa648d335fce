package dev.kiln.core;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/** Small builders that keep the scheduler tests readable. */
final class Fixtures {
    static final Instant T0 = Instant.parse("2025-03-01T09:00:00Z");
    static final int DISK_GIB = 10;

    private Fixtures() {}

    static Size size(int vcpus, int memoryGib) {
        return Size.of(vcpus, memoryGib, DISK_GIB, Arch.X86_64);
    }

    static Size size(int vcpus, int memoryGib, Arch arch) {
        return Size.of(vcpus, memoryGib, DISK_GIB, arch);
    }

    static Host host(String id, int vcpus, int memoryGib) {
        return host(id, Arch.X86_64, vcpus, memoryGib);
    }

    static Host host(String id, Arch arch, int vcpus, int memoryGib) {
        return Host.active(new HostId(id), arch, vcpus, memoryGib * 1024L, 1000);
    }

    /** The host with jobs already on it, each of org acme and repo acme/web. */
    static Host withJobs(Host host, Size... sizes) {
        Host result = host;
        for (Size size : sizes) {
            result = result.withAllocation(
                    new Allocation(new JobId(host.id() + "-running-" + result.allocations().size()), size, "acme",
                            "acme/web"));
        }
        return result;
    }

    static Host withJob(Host host, String jobId, Size size, String org, String repo) {
        return host.withAllocation(new Allocation(new JobId(jobId), size, org, repo));
    }

    static Host hostWithState(String id, int vcpus, int memoryGib, HostState state) {
        return new Host(new HostId(id), Arch.X86_64, vcpus, memoryGib * 1024L, 1000, Set.of(), state, List.of());
    }

    /** A job of org acme, repo acme/web, priority 0, queued at {@link #T0}. */
    static PendingJob job(String id, long sequence, Size size) {
        return job(id, sequence, size, "acme", "acme/web", 0, T0);
    }

    static PendingJob job(String id, long sequence, Size size, String org, String repo) {
        return job(id, sequence, size, org, repo, 0, T0);
    }

    static PendingJob job(String id, long sequence, Size size, String org, String repo, int priority,
            Instant enqueuedAt) {
        return new PendingJob(new JobId(id), size, org, repo, priority, sequence, enqueuedAt);
    }

    static PendingJob prioritised(String id, long sequence, Size size, int priority) {
        return job(id, sequence, size, "acme", "acme/web", priority, T0);
    }

    static List<PendingJob> queue(PendingJob... jobs) {
        return new ArrayList<>(Arrays.asList(jobs));
    }

    static JobId id(String value) {
        return new JobId(value);
    }

    static HostId hostId(String value) {
        return new HostId(value);
    }
}
