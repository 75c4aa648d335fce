package dev.kiln.api;

import java.util.List;
import java.util.Map;

/**
 * A job to run, as {@code POST /api/v1/jobs} takes it. The size comes from {@code labels}
 * ({@code kiln-4cpu-8gb}) or from {@code cpus}, {@code memoryMib} and {@code diskGib}; what is left out
 * takes the server's default. The server validates every field and answers INVALID_ARGUMENT naming
 * the first one that is wrong.
 *
 * @param timeoutSeconds the command's deadline once the guest is up
 * @param org the organisation counted against concurrency limits (local jobs: {@code local})
 * @param repo the repository's full name counted against concurrency limits
 * @param priority higher runs first; FIFO within a priority
 */
public record JobRequest(List<String> command, Map<String, String> env, String image, List<String> labels,
        Integer cpus, Long memoryMib, Integer diskGib, String arch, Long timeoutSeconds, String org, String repo,
        Integer priority) {

    /** A command of the default image with an explicit size. */
    public static JobRequest command(List<String> command, int cpus, long memoryMib, int diskGib) {
        return new JobRequest(command, Map.of(), null, null, cpus, memoryMib, diskGib, null, null, null, null, null);
    }

    public JobRequest withEnv(Map<String, String> newEnv) {
        return new JobRequest(command, newEnv, image, labels, cpus, memoryMib, diskGib, arch, timeoutSeconds, org,
                repo, priority);
    }

    public JobRequest withImage(String newImage) {
        return new JobRequest(command, env, newImage, labels, cpus, memoryMib, diskGib, arch, timeoutSeconds, org,
                repo, priority);
    }

    public JobRequest withTimeoutSeconds(long seconds) {
        return new JobRequest(command, env, image, labels, cpus, memoryMib, diskGib, arch, seconds, org, repo,
                priority);
    }

    public JobRequest withOwner(String newOrg, String newRepo) {
        return new JobRequest(command, env, image, labels, cpus, memoryMib, diskGib, arch, timeoutSeconds, newOrg,
                newRepo, priority);
    }
}
