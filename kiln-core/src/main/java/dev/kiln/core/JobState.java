package dev.kiln.core;

/**
 * A job's lifecycle. Which changes lead from one state to another, and why, is {@link JobLife}'s alone;
 * every transition is timestamped in the job's timeline.
 */
public enum JobState {
    QUEUED, SCHEDULED, STARTING, RUNNING, SUCCEEDED, FAILED, CANCELLED, LOST;

    /** A state no change leaves: the job's result. */
    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED || this == LOST;
    }
}
