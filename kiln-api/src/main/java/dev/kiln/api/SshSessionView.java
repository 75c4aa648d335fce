package dev.kiln.api;

/**
 * One debugging session through the SSH gateway: who (user and key fingerprint), which job and VM, from where,
 * when it started and ended (ISO-8601; endedAt null while it lasts) and why it ended.
 */
public record SshSessionView(String id, String job, String vm, String user, String keyFingerprint, String remoteAddress,
        String startedAt, String endedAt, String endReason) {}
