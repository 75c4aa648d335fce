package dev.kiln.vm;

import java.time.Duration;
import java.util.OptionalInt;

/**
 * How a VM ended. Only {@link Outcome#EXITED} carries the command's exit code: a VMM that stopped
 * without the guest's exit marker did not prove the command finished.
 */
public record VmResult(String vmId, Outcome outcome, OptionalInt exitCode, String detail, Timings timings) {

    public enum Outcome { EXITED, DEADLINE_EXCEEDED, BOOT_FAILED, GUEST_CRASHED, CANCELLED }

    /** Host-side durations: resources made, guest ready (init marker), guest done, resources removed. */
    public record Timings(Duration create, Duration boot, Duration run, Duration destroy) {}
}
