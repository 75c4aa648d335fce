package dev.kiln.api;

import java.util.Map;

/**
 * One VM in an agent's report.
 *
 * @param state BOOTING, RUNNING, EXITED (with exitCode) or FAILED (with outcome and detail)
 * @param outcome for FAILED: BOOT_FAILED, DEADLINE_EXCEEDED, GUEST_CRASHED, CANCELLED or INTERNAL
 * @param sshHostKey the public host key ({@code ssh-ed25519 BASE64}) of the VM's sshd, which its host made for it
 *     before the boot; null for a VM without a debugging shell (or from an older agent)
 * @param boot how the VM booted, once its guest printed the ready marker (carried by every later report of the VM,
 *     its end included); null before, for a VM that never booted, or from an agent older than this field
 */
public record VmReport(String id, VmState state, Integer exitCode, String outcome, String detail, String sshHostKey,
        Boot boot) {

    public VmReport(String id, VmState state, Integer exitCode, String outcome, String detail, String sshHostKey) {
        this(id, state, exitCode, outcome, detail, sshHostKey, null);
    }

    public VmReport(String id, VmState state, Integer exitCode, String outcome, String detail) {
        this(id, state, exitCode, outcome, detail, null, null);
    }

    /** The same report carrying how the VM booted. */
    public VmReport withBoot(Boot boot) {
        return new VmReport(id, state, exitCode, outcome, detail, sshHostKey, boot);
    }

    /**
     * A VM's boot as its host saw it.
     *
     * @param imageDigest the digest ({@code sha256:…}) of the image the VM booted, which the host resolved the launch's
     *     image to
     * @param seconds from the VMM's start to the guest's ready marker, on the host's clock
     * @param phases each boot phase the guest reached (init, network, sshd, dockerd…), to the seconds from the VMM's
     *     start until the host read it on the console
     */
    public record Boot(String imageDigest, double seconds, Map<String, Double> phases) {
        public Boot {
            phases = phases == null ? Map.of() : Map.copyOf(phases);
        }
    }
}
