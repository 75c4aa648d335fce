package dev.kiln.github;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/** GitHub answered a request with an error: the HTTP status and GitHub's own message are kept. */
public final class GitHubApiException extends KilnException {
    private final int status;
    private final String githubMessage;
    private final boolean notSent;

    GitHubApiException(ErrorCode code, int status, String githubMessage, String message) {
        this(code, status, githubMessage, message, false);
    }

    GitHubApiException(ErrorCode code, int status, String githubMessage, String message, boolean notSent) {
        super(code, message);
        this.status = status;
        this.githubMessage = githubMessage;
        this.notSent = notSent;
    }

    /** Whether Kiln held the request back (a rate limit, or GitHub failing) instead of sending it. */
    public boolean notSent() {
        return notSent;
    }

    /**
     * Whether {@code e} is a GitHub call Kiln held back: the call that found GitHub failing or rate-limited was
     * logged, so one held back after it only waits (and is worth a debug line at most).
     */
    public static boolean heldBack(KilnException e) {
        return e instanceof GitHubApiException api && api.notSent;
    }

    /** GitHub's HTTP status, e.g. 409 when a runner of that name exists. */
    public int status() {
        return status;
    }

    /** The {@code message} of GitHub's error body (empty when there was none). */
    public String githubMessage() {
        return githubMessage;
    }

    static ErrorCode codeFor(int status) {
        return switch (status) {
            case 401 -> ErrorCode.UNAUTHENTICATED;
            case 403 -> ErrorCode.PERMISSION_DENIED;
            case 404, 410 -> ErrorCode.NOT_FOUND;
            case 409 -> ErrorCode.CONFLICT;
            case 400, 422 -> ErrorCode.INVALID_ARGUMENT;
            default -> ErrorCode.UPSTREAM_FAILED;
        };
    }
}
