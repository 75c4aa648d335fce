package dev.kiln.api;

/**
 * Part of a VM's output. Chunks of one VM are numbered from 0; a chunk the server has already stored
 * is ignored, so an agent may resend after a failure.
 *
 * @param stream {@code stdout} or {@code stderr}
 */
public record LogChunk(String vm, long sequence, String stream, String text) {}
