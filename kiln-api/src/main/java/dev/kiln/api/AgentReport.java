package dev.kiln.api;

import java.util.List;

/**
 * What an agent actually has, posted on every sync (level-triggered: the whole state, never a delta).
 *
 * @param bootId a random id of this agent process; a new one tells the server the agent restarted
 * @param sequence increases with every report of one boot; an older report than one already applied
 *     changes nothing
 * @param desiredVersion the version of the last answer the agent converged to; the server holds the
 *     sync while its answer would be the same
 * @param vms every VM the agent has, including ended ones until the server's answer no longer lists them
 * @param emulatedArches the other arches the host's operator lets it run under emulation (`kiln agent
 *     --emulate arm64`); null or empty for none (an agent older than this field sends none)
 * @param images the digests of the images the host holds (verified), so that the server moves a name to a new
 *     digest once the hosts prefetched it; null from an agent older than this field
 * @param cleanupFailures how many VMs' resources (tap, rules, disk, cgroup, process) this agent process failed to
 *     remove when they ended, counted since its start (its {@code bootId}); null from an agent older than this field
 */
public record AgentReport(String bootId, long sequence, String version, String arch, int vcpus, long memoryMib,
        int diskGib, String desiredVersion, List<VmReport> vms, List<String> emulatedArches, List<String> images,
        Long cleanupFailures) {

    /** A report that says nothing of cleanup failures. */
    public AgentReport(String bootId, long sequence, String version, String arch, int vcpus, long memoryMib,
            int diskGib, String desiredVersion, List<VmReport> vms, List<String> emulatedArches, List<String> images) {
        this(bootId, sequence, version, arch, vcpus, memoryMib, diskGib, desiredVersion, vms, emulatedArches, images, null);
    }

    /** A report that says nothing of the host's images. */
    public AgentReport(String bootId, long sequence, String version, String arch, int vcpus, long memoryMib,
            int diskGib, String desiredVersion, List<VmReport> vms, List<String> emulatedArches) {
        this(bootId, sequence, version, arch, vcpus, memoryMib, diskGib, desiredVersion, vms, emulatedArches, null, null);
    }

    /** A report of a host that runs its own arch only. */
    public AgentReport(String bootId, long sequence, String version, String arch, int vcpus, long memoryMib,
            int diskGib, String desiredVersion, List<VmReport> vms) {
        this(bootId, sequence, version, arch, vcpus, memoryMib, diskGib, desiredVersion, vms, null, null, null);
    }
}
