package dev.kiln.api;

import java.util.List;
import java.util.Map;

/**
 * A VM that should exist on the host, carrying everything it needs: a repeated launch is harmless.
 *
 * @param image the image name or digest the host resolves in its store
 */
public record VmLaunch(String id, String job, String image, int cpus, long memoryMib, int diskGib,
        List<String> command, Map<String, String> env, long timeoutSeconds) {}
