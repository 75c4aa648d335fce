package dev.kiln.core;

import static java.util.Objects.requireNonNull;

/** A {@code runs-on} label with Kiln's prefix that does not name a size Kiln can run. */
public final class InvalidLabelException extends KilnException {
    private final String label;

    InvalidLabelException(String label, String message) {
        super(ErrorCode.INVALID_LABEL, message);
        this.label = requireNonNull(label, "label is null");
    }

    /** The offending label, as the job gave it. */
    public String label() {
        return label;
    }
}
