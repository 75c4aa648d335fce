package dev.kiln.core;

import static java.util.Objects.requireNonNull;

/** Kiln's one error shape: a {@link ErrorCode} and a message that names what was asked and what was found. */
public class KilnException extends RuntimeException {
    private final ErrorCode code;

    public KilnException(ErrorCode code, String message) {
        super(requireNonNull(message, "message is null"));
        this.code = requireNonNull(code, "code is null");
    }

    public KilnException(ErrorCode code, String message, Throwable cause) {
        super(requireNonNull(message, "message is null"), cause);
        this.code = requireNonNull(code, "code is null");
    }

    public final ErrorCode code() {
        return code;
    }
}
