package dev.kiln.api;

/**
 * A VM as the server records it. PENDING, BOOTING, RUNNING and STOPPING hold room on their host;
 * the others are ends.
 */
public enum VmState {
    /** Reserved on its host; the agent has not reported it yet. */
    PENDING,
    /** The agent is making it or its guest is booting. */
    BOOTING,
    /** The guest is up and runs the job. */
    RUNNING,
    /** No longer wanted (cancelled); the agent has not reported it gone yet. */
    STOPPING,
    /** The guest ran the command and reported its exit code. */
    EXITED,
    /** It ended without an exit code: boot failure, deadline, crash, cancellation. */
    FAILED,
    /** Its host went silent; what became of it is unknown. */
    LOST;

    public boolean holdsRoom() {
        return this == PENDING || this == BOOTING || this == RUNNING || this == STOPPING;
    }
}
