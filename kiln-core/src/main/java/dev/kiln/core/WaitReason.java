package dev.kiln.core;

/** Why a job that some registered host could hold was not placed in this pass. */
public enum WaitReason {
    /** No active host has room for it now. */
    CAPACITY,
    /** An active host has room, but it is held for an earlier job that has waited too long. */
    HELD_FOR_EARLIER_JOB,
    /** Only draining or offline hosts (or none yet) could hold it. */
    NO_ACTIVE_HOST,
    /** Its organisation has as many jobs reserved or running as its limit allows. */
    ORG_LIMIT,
    /** Its repository has as many jobs reserved or running as its limit allows. */
    REPO_LIMIT
}
