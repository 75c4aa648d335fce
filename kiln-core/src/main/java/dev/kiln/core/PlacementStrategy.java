package dev.kiln.core;

/** How the scheduler picks among the hosts a job fits. */
public enum PlacementStrategy {
    /**
     * The host the job leaves with the least free memory, then the least free vCPUs: small jobs fill
     * the fullest hosts, so large holes stay free for large jobs.
     */
    BEST_FIT,
    /** The first host, in the order given, that the job fits. Kept for comparison. */
    FIRST_FIT
}
