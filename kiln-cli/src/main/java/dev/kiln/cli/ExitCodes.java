package dev.kiln.cli;

import dev.kiln.core.ErrorCode;

/**
 * Exit codes of `kiln`. `kiln run` exits with the guest command's own code when the command ran;
 * Kiln's own failures use codes from 120 up (as `docker run` uses 125-127 and `timeout` 124), each
 * printed with a message saying what to do.
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
    static final int GUEST_CRASHED = 126;
    static final int SERVER = 127;
    /**
     * Remote `kiln run` lost its server for longer than it reconnects (5 minutes): the job may still be
     * running, so this is neither the command's failure nor Kiln's verdict on it (`kiln logs -f ID`).
     * Outside 120-127, which may be renumbered so as not to collide with a command's own 126 and 127.
     */
    static final int SERVER_LOST = 128;
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
