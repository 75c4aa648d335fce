package dev.kiln.api;

/** A VM as the API shows it: the server's record, converged to the agents' reports. */
public record VmView(String id, String job, String host, VmState state, int cpus, long memoryMib, int diskGib,
        String createdAt, String updatedAt) {}
