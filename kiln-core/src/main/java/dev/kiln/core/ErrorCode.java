package dev.kiln.core;

import static java.util.Objects.requireNonNull;

/**
 * What went wrong, as a stable code that the API returns as {@code {"code": "...", "message": "..."}}.
 * Codes are grouped by {@link Kind}, which decides how a caller reacts (and which HTTP status the
 * server answers with). Add a code where the failure is raised; never reuse one for a different meaning.
 */
public enum ErrorCode {
    /** A {@code runs-on} label that carries Kiln's prefix but is not a size Kiln understands. */
    INVALID_LABEL(Kind.USER_ERROR),
    /** A host tool (ip, nft, qemu-img, mkfs) exited non-zero or did not finish in time. */
    HOST_COMMAND_FAILED(Kind.INTERNAL),
    /** A host tool or device Kiln needs is not there; {@code kiln doctor} says which. */
    HOST_PREREQUISITE_MISSING(Kind.UNAVAILABLE),
    /** The work was interrupted or cancelled before it finished. */
    CANCELLED(Kind.UNAVAILABLE),
    /** A flag, config value or request field is malformed or out of range. */
    INVALID_ARGUMENT(Kind.USER_ERROR),
    /** No image by that name or digest is stored. */
    IMAGE_NOT_FOUND(Kind.NOT_FOUND),
    /** A stored image does not match its manifest. */
    IMAGE_INVALID(Kind.INTERNAL),
    /** Building an image failed; the store is unchanged. */
    IMAGE_BUILD_FAILED(Kind.INTERNAL),
    /** The request asks for more than the host (or fleet) could ever give. */
    INSUFFICIENT_CAPACITY(Kind.USER_ERROR),
    /** The guest never printed its init marker within the boot deadline. */
    BOOT_FAILED(Kind.UNAVAILABLE),
    /** The guest stopped without reporting an exit code. */
    GUEST_CRASHED(Kind.INTERNAL),
    /** The command ran past its deadline and was killed. */
    DEADLINE_EXCEEDED(Kind.USER_ERROR),
    /** The thing exists already (a VM id, an image being built), or its state forbids the request. */
    CONFLICT(Kind.CONFLICT),
    /** A token is missing, wrong or revoked (HTTP 401). */
    UNAUTHENTICATED(Kind.USER_ERROR),
    /** No job, host or VM by that id. */
    NOT_FOUND(Kind.NOT_FOUND),
    /** The server or its database cannot be reached now; a later retry may succeed. */
    UNAVAILABLE(Kind.UNAVAILABLE),
    /** The job's host went silent while the job ran: its VM is lost and its result unknown. */
    JOB_LOST(Kind.UNAVAILABLE),
    /** A request body (a webhook delivery, say) is larger than Kiln accepts (HTTP 413). */
    PAYLOAD_TOO_LARGE(Kind.USER_ERROR),
    /** An upstream API (GitHub) refused for lack of a permission the App or token needs (HTTP 403). */
    PERMISSION_DENIED(Kind.USER_ERROR),
    /** An upstream API's rate limit is exhausted and resets later than Kiln may wait; retry after the reset. */
    RATE_LIMITED(Kind.UNAVAILABLE),
    /** An upstream API (GitHub) failed or answered with something Kiln does not understand. */
    UPSTREAM_FAILED(Kind.UNAVAILABLE),
    /**
     * A client lost its server for longer than it waits to reconnect; what it followed (a job) may still
     * be running there, and the message says how to follow it again.
     */
    SERVER_LOST(Kind.UNAVAILABLE),
    /** An unexpected failure inside Kiln; the message says where. */
    INTERNAL(Kind.INTERNAL);

    /** How a caller should treat the failure. */
    public enum Kind {
        /** The request is wrong; repeating it will fail the same way. */
        USER_ERROR,
        /** The request clashes with the current state (a duplicate, a job already finished). */
        CONFLICT,
        /** What was named does not exist. */
        NOT_FOUND,
        /** Transient: a dependency is missing or busy; a later retry may succeed. */
        UNAVAILABLE,
        /** A bug or an unexpected failure inside Kiln. */
        INTERNAL
    }

    private final Kind kind;

    ErrorCode(Kind kind) {
        this.kind = requireNonNull(kind, "kind is null");
    }

    public Kind kind() {
        return kind;
    }
}
