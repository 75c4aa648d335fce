package dev.kiln.cli;

import dev.kiln.core.ErrorCode;

/**
 * Exit codes of `kiln`. `kiln run` exits with the guest command's own code when the command ran;
 * Kiln's own failures use codes from 118 to 125 (and 2 for usage, 130 for Ctrl-C), each printed with a
 * message saying what to do. None is 126 or 127, which a command's own shell gives for "not
 * executable" and "not found": a script can tell those from Kiln's crashed guest or unreachable server.
 */
final class ExitCodes {
    static final int OK = 0;
    static final int USAGE = 2;
    static final int IMAGE = 120;
    static final int CAPACITY = 121;
    static final int HOST_PREREQUISITE = 122;
    static final int BOOT_FAILED = 123;
    static final int DEADLINE_EXCEEDED = 124;
    static final int INTERNAL = 125;
    /**
     * Remote `kiln run` lost its server for longer than it reconnects (5 minutes): the job may still be
     * running, so this is neither the command's failure nor Kiln's verdict on it (`kiln logs -f ID`).
     */
    static final int SERVER_LOST = 117;
    static final int SERVER = 118;
    static final int GUEST_CRASHED = 119;
    static final int INTERRUPTED = 130;

    private ExitCodes() {}

    static int of(ErrorCode code) {
        return switch (code) {
            case INVALID_ARGUMENT, INVALID_LABEL, CONFLICT, NOT_FOUND, PAYLOAD_TOO_LARGE, PERMISSION_DENIED -> USAGE;
            case IMAGE_NOT_FOUND, IMAGE_INVALID, IMAGE_BUILD_FAILED -> IMAGE;
            case INSUFFICIENT_CAPACITY -> CAPACITY;
            case HOST_PREREQUISITE_MISSING -> HOST_PREREQUISITE;
            case BOOT_FAILED -> BOOT_FAILED;
            case DEADLINE_EXCEEDED -> DEADLINE_EXCEEDED;
            case GUEST_CRASHED, JOB_LOST -> GUEST_CRASHED;
            case UNAUTHENTICATED, UNAVAILABLE, RATE_LIMITED, UPSTREAM_FAILED -> SERVER;
            case SERVER_LOST -> SERVER_LOST;
            case CANCELLED -> INTERRUPTED;
            case HOST_COMMAND_FAILED, INTERNAL -> INTERNAL;
        };
    }
}
