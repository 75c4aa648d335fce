package dev.kiln.github;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

/**
 * A webhook delivery Kiln refuses, with the HTTP status to answer: 401 (signature missing or wrong),
 * 400 (malformed), 413 (too large), 503 (busy). Nothing of the body or the secret is in the message.
 */
public final class WebhookException extends KilnException {
    private final int httpStatus;

    private WebhookException(ErrorCode code, int httpStatus, String message) {
        super(code, message);
        this.httpStatus = httpStatus;
    }

    static WebhookException unauthenticated(String message) {
        return new WebhookException(ErrorCode.UNAUTHENTICATED, 401, message);
    }

    static WebhookException malformed(String message) {
        return new WebhookException(ErrorCode.INVALID_ARGUMENT, 400, message);
    }

    static WebhookException tooLarge(String message) {
        return new WebhookException(ErrorCode.PAYLOAD_TOO_LARGE, 413, message);
    }

    /** The server cannot take the delivery now (HTTP 503); GitHub's redelivery or a retry may succeed. */
    public static WebhookException busy(String message) {
        return new WebhookException(ErrorCode.UNAVAILABLE, 503, message);
    }

    public int httpStatus() {
        return httpStatus;
    }
}
