package dev.kiln.api;

import java.util.List;

/**
 * A job as the API shows it.
 *
 * @param host the host it is reserved on or ran on; null while queued
 * @param vm the VM that runs it; null while queued
 * @param exitCode the command's exit code, when the guest reported one
 * @param errorCode why it failed, as an {@link dev.kiln.core.ErrorCode} name (BOOT_FAILED, INSUFFICIENT_CAPACITY…)
 * @param timeline every state the job entered, oldest first; empty in listings
 */
public record JobView(String id, JobState state, List<String> command, String image, int cpus, long memoryMib,
        int diskGib, String arch, String org, String repo, int priority, String host, String vm, Integer exitCode,
        String errorCode, String detail, String createdAt, String updatedAt, List<JobEvent> timeline) {}
