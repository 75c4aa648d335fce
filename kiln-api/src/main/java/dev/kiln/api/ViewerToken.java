package dev.kiln.api;

/**
 * A read-only dashboard token as listed: its name and when it was made (the token itself is shown once, at creation).
 */
public record ViewerToken(String name, String createdAt) {
    /** A token just made: {@code token} is shown this once and kept nowhere but as its hash. */
    public record Created(String name, String token, String createdAt) {}

    /** The body of {@code POST /api/v1/viewer-tokens}. */
    public record Create(String name) {}
}
