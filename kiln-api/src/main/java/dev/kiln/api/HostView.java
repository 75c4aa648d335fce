package dev.kiln.api;

/**
 * A host as the API shows it.
 *
 * @param state PENDING (added, never enrolled), ACTIVE, DRAINING or OFFLINE
 * @param used what its reserved and running VMs take
 * @param lastSeen its last report (ISO-8601), null before its first
 * @param arch its own architecture, which its VMs run natively
 * @param emulatedArches the other architectures it runs under emulation, as its operator allowed
 */
public record HostView(String name, String state, String arch, int vcpus, long memoryMib, int diskGib,
        int usedVcpus, long usedMemoryMib, int usedDiskGib, int vms, String version, String lastSeen,
        java.util.List<String> emulatedArches) {}
