package dev.kiln.agent;

import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;

/** A VM the agent has, as it will report it. Guarded by the agent's lock. */
final class LocalVm {
    final VmLaunch launch;
    VmState state;
    Vmm.Ending ending;
    /** Set once the VM's last output is uploaded: only then is its end reported. */
    boolean endReportable;
    /** Set once a report carrying the VM's end has been answered: only then may the VM be forgotten. */
    boolean endSent;
    /** Where this host reaches the VM's sshd, for a VM with a debugging shell; null otherwise. */
    dev.kiln.vm.GuestSshEndpoint ssh;
    /** How it booted, once it did; reported from then on, its end included. */
    VmReport.Boot boot;

    LocalVm(VmLaunch launch, VmState state) {
        this.launch = launch;
        this.state = state;
    }

    boolean ended() {
        return ending != null;
    }

    VmReport report() {
        if (ending != null && endReportable) {
            return new VmReport(launch.id(), ending.state(), ending.exitCode(), ending.outcome(), ending.detail(), null,
                    boot);
        }
        return new VmReport(launch.id(), state == VmState.RUNNING ? VmState.RUNNING : VmState.BOOTING, null, null, null,
                ssh == null ? null : ssh.hostKey(), boot);
    }
}
