package dev.kiln.api;

/** A job's lifecycle; every transition is timestamped in the job's timeline. */
public enum JobState {
    QUEUED, SCHEDULED, STARTING, RUNNING, SUCCEEDED, FAILED, CANCELLED, LOST;

    public boolean terminal() {
        return this == SUCCEEDED || this == FAILED || this == CANCELLED || this == LOST;
    }
}
