package dev.kiln.github;

/** What deleting a runner did. */
public enum DeleteOutcome {
    /** GitHub removed the runner (204). */
    DELETED,
    /** There was no such runner (404): it removed itself after its job, or was never registered. */
    ALREADY_GONE,
    /** The runner is running a job (422): leave it and its VM alone. */
    BUSY
}
