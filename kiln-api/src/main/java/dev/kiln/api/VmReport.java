package dev.kiln.api;

/**
 * One VM in an agent's report.
 *
 * @param state BOOTING, RUNNING, EXITED (with exitCode) or FAILED (with outcome and detail)
 * @param outcome for FAILED: BOOT_FAILED, DEADLINE_EXCEEDED, GUEST_CRASHED, CANCELLED or INTERNAL
 */
public record VmReport(String id, VmState state, Integer exitCode, String outcome, String detail) {}
