package dev.kiln.core;

/** Whether a host takes new jobs. Only {@link #ACTIVE} hosts do; the others keep what they run. */
public enum HostState {
    /** Reporting and taking jobs. */
    ACTIVE,
    /** Finishing its jobs and taking no new ones, e.g. before maintenance. */
    DRAINING,
    /** Silent past the deadline; its VMs are lost. */
    OFFLINE
}
