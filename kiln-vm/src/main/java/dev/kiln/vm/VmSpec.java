package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A VM to run: its image, size, deadline and the command its guest runs. */
public record VmSpec(
        String vmId,
        ImageManifest image,
        int cpus,
        long memoryMib,
        int diskGib,
        Duration timeout,
        List<String> command,
        Map<String, String> env,
        boolean network,
        String runnerJitConfig,
        List<String> sshAuthorizedKeys) {

    public static final long MIN_MEMORY_MIB = 128;

    /** A VM that runs a command. */
    public VmSpec(String vmId, ImageManifest image, int cpus, long memoryMib, int diskGib, Duration timeout,
            List<String> command, Map<String, String> env, boolean network) {
        this(vmId, image, cpus, memoryMib, diskGib, timeout, command, env, network, null, List.of());
    }

    /** A VM whose guest runs the image's GitHub runner once with this just-in-time configuration. */
    public static VmSpec forRunner(String vmId, ImageManifest image, int cpus, long memoryMib, int diskGib,
            Duration timeout, String jitConfig, Map<String, String> env) {
        return new VmSpec(vmId, image, cpus, memoryMib, diskGib, timeout, List.of(), env, true,
                requireNonNull(jitConfig, "jitConfig is null"), List.of());
    }

    /**
     * The same VM with a debugging shell: its guest runs sshd with a host key made for it and lets `runner` in with
     * these public keys (none: no sshd).
     */
    public VmSpec withSshAuthorizedKeys(List<String> keys) {
        return new VmSpec(vmId, image, cpus, memoryMib, diskGib, timeout, command, env, network, runnerJitConfig, keys);
    }

    public VmSpec {
        requireNonNull(vmId, "vmId is null");
        requireNonNull(image, "image is null");
        requireNonNull(timeout, "timeout is null");
        command = List.copyOf(command);
        env = Map.copyOf(env);
        sshAuthorizedKeys = sshAuthorizedKeys == null ? List.of() : List.copyOf(sshAuthorizedKeys);
        if (!vmId.matches("[a-z0-9-]{1,40}")) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "VM id '" + vmId + "' must be 1-40 of [a-z0-9-]");
        }
        if (cpus < 1) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--cpus must be at least 1, got " + cpus);
        }
        if (memoryMib < MIN_MEMORY_MIB) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                    "--memory must be at least %d MiB, got %d MiB".formatted(MIN_MEMORY_MIB, memoryMib));
        }
        if (diskGib < 1) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--disk must be at least 1 GiB, got " + diskGib);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--timeout must be positive, got " + timeout);
        }
        if (command.isEmpty() == (runnerJitConfig == null)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, command.isEmpty()
                    ? "no command to run: give one after `--`"
                    : "a VM runs either a command or a runner, not both");
        }
        GuestConfig.checkEnvNames(env.keySet());
    }

    @Override
    public String toString() {
        // The environment and the runner's JIT config are secrets: never printed.
        return "VmSpec[%s, image %s, %d vCPU, %d MiB, %d GiB, timeout %s, %s, env=%d variables]".formatted(vmId,
                image.shortDigest(), cpus, memoryMib, diskGib, timeout,
                runnerJitConfig != null ? "runner" : "command " + command, env.size());
    }
}
