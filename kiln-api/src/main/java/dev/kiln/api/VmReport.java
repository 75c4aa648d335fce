package dev.kiln.api;

/**
 * One VM in an agent's report.
 *
 * @param state BOOTING, RUNNING, EXITED (with exitCode) or FAILED (with outcome and detail)
 * @param outcome for FAILED: BOOT_FAILED, DEADLINE_EXCEEDED, GUEST_CRASHED, CANCELLED or INTERNAL
 * @param sshHostKey the public host key ({@code ssh-ed25519 BASE64}) of the VM's sshd, which its host made for it
 *     before the boot; null for a VM without a debugging shell (or from an older agent)
 */
public record VmReport(String id, VmState state, Integer exitCode, String outcome, String detail, String sshHostKey) {

    public VmReport(String id, VmState state, Integer exitCode, String outcome, String detail) {
        this(id, state, exitCode, outcome, detail, null);
    }
}
