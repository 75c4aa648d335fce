package dev.kiln.agent;

import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmState;
import java.util.List;

/**
 * What the agent drives: something that boots VMs and tells how they end. Two implementations:
 * {@link EngineVmm} on the real {@link dev.kiln.vm.VmEngine}, and {@link SimulatedVmm}, which boots
 * nothing and only reports, for fleet-scale tests and benchmarks.
 */
public interface Vmm extends AutoCloseable {
    /** Where a VM's events go; called from any thread, outputs of one VM in order and before its end. */
    interface Listener {
        void running(String vmId);

        /** The VM booted as {@code boot} says (its image's digest, boot time and phases) and runs. */
        default void running(String vmId, dev.kiln.api.VmReport.Boot boot) {
            running(vmId);
        }

        /** The VM will run an sshd for debugging shells, reachable from this host there (before it runs). */
        default void ssh(String vmId, dev.kiln.vm.GuestSshEndpoint endpoint) {}

        void output(String vmId, String stream, byte[] bytes, int offset, int length);

        void ended(String vmId, Ending ending);
    }

    /**
     * How a VM ended.
     *
     * @param state EXITED (the guest reported exitCode) or FAILED (outcome names an ErrorCode)
     */
    record Ending(VmState state, Integer exitCode, String outcome, String detail) {
        public static Ending exited(int code) {
            return new Ending(VmState.EXITED, code, null, "exited with " + code);
        }

        public static Ending failed(String outcome, String detail) {
            return new Ending(VmState.FAILED, null, outcome, detail);
        }
    }

    /** A VM an earlier agent process left running and this one carries on with. */
    record Adopted(VmLaunch launch, boolean running) {}

    /** What the host offers. */
    Capacity capacity();

    /**
     * Called once before any launch: cleans what dead agent processes left, and returns the VMs that
     * survive them (their later events go to the listener).
     */
    List<Adopted> recover(Listener listener);

    /** Starts the VM and returns at once; its events go to the listener. */
    void launch(VmLaunch launch, Listener listener);

    /** Stops a VM; it ends FAILED with outcome CANCELLED. Unknown ids are ignored. */
    void cancel(String vmId);

    /** How many VMs' resources it failed to remove when they ended, since it started (none by default). */
    default long cleanupFailures() {
        return 0;
    }

    /** Stops watching; what happens to running VMs is the implementation's to say. */
    @Override
    void close();
}
