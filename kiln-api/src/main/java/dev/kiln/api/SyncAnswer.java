package dev.kiln.api;

import java.util.List;

/**
 * What should exist on the host. The agent launches what it lacks and stops what is not listed.
 *
 * @param desiredVersion identifies this answer; the agent sends it back so the server can hold the
 *     next sync until something changes
 * @param generation moves on whenever what should exist on the host changes: an agent that gets
 *     answers out of order (a held sync and an immediate report cross) acts only on the newest
 * @param draining whether the host takes new VMs (informational: the server already sends none)
 * @param prefetch digests of images the host should hold before a launch names them (the image pipeline's new
 *     builds and the current digests of the names it keeps): the agent fetches those of its arches it lacks, verified
 *     as a launch's; null or empty for none
 */
public record SyncAnswer(String host, String desiredVersion, long generation, boolean draining, List<VmLaunch> vms,
        List<String> prefetch) {

    /** An answer that asks for no prefetch. */
    public SyncAnswer(String host, String desiredVersion, long generation, boolean draining, List<VmLaunch> vms) {
        this(host, desiredVersion, generation, draining, vms, null);
    }
}
