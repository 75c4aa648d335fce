package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import java.nio.charset.StandardCharsets;

/** A secret value (the webhook secret) that never prints: {@link #toString()} hides it. */
public final class Secret {
    private final byte[] value;

    private Secret(byte[] value) {
        this.value = value.clone();
    }

    public static Secret of(String value) {
        requireNonNull(value, "value is null");
        return new Secret(value.getBytes(StandardCharsets.UTF_8));
    }

    /** The secret's UTF-8 bytes, a copy. */
    byte[] bytes() {
        return value.clone();
    }

    boolean isEmpty() {
        return value.length == 0;
    }

    @Override
    public String toString() {
        return "[secret]";
    }
}
