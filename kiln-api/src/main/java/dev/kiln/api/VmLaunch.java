package dev.kiln.api;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.List;
import java.util.Map;

/**
 * A VM that should exist on the host, carrying everything it needs: a repeated launch is harmless.
 *
 * @param image the image name or digest the host resolves in its store
 * @param arch the VM's architecture (x86_64, arm64): the job's, or for a job that runs on any the host's
 *     own; the image must be built for it. Null from a server older than this field: the host's own
 * @param command what the guest runs; empty for a runner VM
 * @param runnerJitConfig for a GitHub runner VM (command empty): the JIT config its guest hands to
 *     {@code run.sh --jitconfig}; a secret, never printed by {@link #toString()}; null otherwise
 * @param sshAuthorizedKeys public keys (authorized_keys lines) that may log in as `runner` through the server's SSH
 *     gateway: the VM then runs sshd with a host key of its own; empty or null (an older server) for none
 */
public record VmLaunch(String id, String job, String image, int cpus, long memoryMib, int diskGib,
        List<String> command, Map<String, String> env, long timeoutSeconds, String runnerJitConfig, String arch,
        List<String> sshAuthorizedKeys) {

    public VmLaunch {
        sshAuthorizedKeys = sshAuthorizedKeys == null ? List.of() : List.copyOf(sshAuthorizedKeys);
    }

    /** A launch without a debugging shell. */
    public VmLaunch(String id, String job, String image, int cpus, long memoryMib, int diskGib,
            List<String> command, Map<String, String> env, long timeoutSeconds, String runnerJitConfig, String arch) {
        this(id, job, image, cpus, memoryMib, diskGib, command, env, timeoutSeconds, runnerJitConfig, arch, List.of());
    }

    /** The same launch whose VM lets these keys in through the SSH gateway. */
    public VmLaunch withSshAuthorizedKeys(List<String> keys) {
        return new VmLaunch(id, job, image, cpus, memoryMib, diskGib, command, env, timeoutSeconds, runnerJitConfig,
                arch, keys);
    }

    /** A launch of a VM of the host's own architecture. */
    public VmLaunch(String id, String job, String image, int cpus, long memoryMib, int diskGib,
            List<String> command, Map<String, String> env, long timeoutSeconds, String runnerJitConfig) {
        this(id, job, image, cpus, memoryMib, diskGib, command, env, timeoutSeconds, runnerJitConfig, null);
    }

    /** A launch that runs a command. */
    public VmLaunch(String id, String job, String image, int cpus, long memoryMib, int diskGib, List<String> command,
            Map<String, String> env, long timeoutSeconds) {
        this(id, job, image, cpus, memoryMib, diskGib, command, env, timeoutSeconds, null, null);
    }

    @JsonIgnore
    public boolean isRunner() {
        return runnerJitConfig != null;
    }

    /** The same launch without its secret, for what is written to disk or logged. */
    public VmLaunch withoutSecrets() {
        return runnerJitConfig == null ? this
                : new VmLaunch(id, job, image, cpus, memoryMib, diskGib, command, env, timeoutSeconds, null, arch,
                        sshAuthorizedKeys);
    }

    @Override
    public String toString() {
        return "VmLaunch[id=" + id + ", job=" + job + ", image=" + image + (arch == null ? "" : ", arch=" + arch)
                + ", cpus=" + cpus + ", memoryMib=" + memoryMib
                + ", diskGib=" + diskGib + ", command=" + command + ", timeoutSeconds=" + timeoutSeconds
                + (runnerJitConfig == null ? "" : ", runnerJitConfig=[secret]")
                + (sshAuthorizedKeys.isEmpty() ? "" : ", sshAuthorizedKeys=" + sshAuthorizedKeys.size()) + "]";
    }
}
