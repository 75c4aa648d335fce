package dev.kiln.core;

/** Checks shared by the typed ids. */
final class Ids {
    static final int MAX_LENGTH = 128;

    private Ids() {}

    static String check(String kind, String value) {
        if (value == null) {
            throw new NullPointerException(kind + " is null");
        }
        if (value.isBlank() || value.length() > MAX_LENGTH) {
            throw new IllegalArgumentException(kind + " must be 1 to " + MAX_LENGTH + " characters and not blank, got '"
                    + (value.length() > MAX_LENGTH ? value.substring(0, MAX_LENGTH) + "…" : value) + "'");
        }
        for (int i = 0; i < value.length(); i++) {
            if (Character.isISOControl(value.charAt(i))) {
                throw new IllegalArgumentException(kind + " must not contain control characters");
            }
        }
        return value;
    }
}
