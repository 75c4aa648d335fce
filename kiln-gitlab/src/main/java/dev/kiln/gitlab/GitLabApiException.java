package dev.kiln.gitlab;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/** A GitLab call that failed; {@code status} is GitLab's HTTP status (0 when GitLab gave none). */
public final class GitLabApiException extends KilnException {
    private static final long serialVersionUID = 1L;
    private final int status;

    GitLabApiException(ErrorCode code, int status, String message) {
        super(code, message);
        this.status = status;
    }

    public int status() {
        return status;
    }

    /** The code for a refusal of GitLab's: what it means for Kiln. */
    static ErrorCode codeFor(int status) {
        return switch (status) {
            case 400, 422 -> ErrorCode.INVALID_ARGUMENT;
            case 401 -> ErrorCode.UNAUTHENTICATED;
            case 403 -> ErrorCode.PERMISSION_DENIED;
            case 404 -> ErrorCode.NOT_FOUND;
            case 409 -> ErrorCode.CONFLICT;
            case 429 -> ErrorCode.RATE_LIMITED;
            default -> ErrorCode.UPSTREAM_FAILED;
        };
    }
}
