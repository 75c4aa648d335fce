package dev.kiln.server.dashboard;

import dev.kiln.api.HostView;
import dev.kiln.core.WaitReason;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;

/**
 * Why a queued job waits, in words: the scheduler's own reason ({@link WaitReason}, from the last pass), with the
 * names and numbers of the fleet as it is now, so that "no room" says how much room there is and where.
 */
final class QueueWords {
    private QueueWords() {}

    /** A queued job as far as the words need it. */
    record Waiting(String org, String repo, int cpus, long memoryMib, String arch, String detail, Long notBefore) {}

    static String why(Waiting job, WaitReason reason, List<HostView> hosts, long now) {
        if (job.notBefore() != null && job.notBefore() > now) {
            return "its last launch got no runner in time; it is tried again from "
                    + Instant.ofEpochMilli(job.notBefore());
        }
        if (reason == null) {
            if (job.detail() != null && job.detail().startsWith("waits for a host")) {
                return job.detail().substring("waits for ".length());
            }
            return "not yet seen by a scheduling pass of this server";
        }
        return switch (reason) {
            case ORG_LIMIT -> "organisation " + job.org() + " has as many jobs reserved or running as its cap allows";
            case REPO_LIMIT -> "repository " + job.repo() + " has as many jobs reserved or running as its cap allows";
            case HELD_FOR_EARLIER_JOB -> "a host has room for it, held for an earlier job that has waited longer";
            case NO_ACTIVE_HOST -> "no active " + job.arch() + " host: those that could run it are draining or offline";
            case CAPACITY -> capacity(job, hosts);
        };
    }

    private static String capacity(Waiting job, List<HostView> hosts) {
        String wanted = "no " + job.arch() + " host has " + job.cpus() + " vCPUs and " + gib(job.memoryMib()) + " free";
        return hosts.stream()
                .filter(h -> "ACTIVE".equals(h.state()))
                .filter(h -> job.arch().equals(h.arch()) || (h.emulatedArches() != null && h.emulatedArches().contains(job.arch())))
                .max(Comparator.comparingLong(h -> h.memoryMib() - h.usedMemoryMib()))
                .map(h -> wanted + "; the most memory free is " + gib(h.memoryMib() - h.usedMemoryMib()) + " on " + h.name()
                        + " (" + Math.max(0, h.vcpus() - h.usedVcpus()) + " of " + h.vcpus() + " vCPUs free)")
                .orElse(wanted);
    }

    static String gib(long mib) {
        return mib % 1024 == 0 ? (mib / 1024) + " GiB" : String.format(java.util.Locale.ROOT, "%.1f GiB", mib / 1024.0);
    }
}
