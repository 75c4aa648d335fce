package dev.kiln.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Checks a GitLab hook before its body is read: GitLab sends the configured secret verbatim in
 * {@code X-Gitlab-Token} (no signature, ci-protocols.md §6.4), compared here in constant time (both sides
 * hashed first, so that neither the secret's bytes nor its length leak through timing). The body is then read
 * with a bound enforced as bytes arrive: a Job Hook is a few kilobytes, {@link #MAX_BODY_BYTES} is generous.
 */
public final class HookVerifier {
    public static final int MAX_BODY_BYTES = 1024 * 1024;
    private static final int CHUNK = 16 * 1024;

    private final byte[] secretDigest;

    public HookVerifier(String secret) {
        requireNonNull(secret, "secret is null");
        if (secret.isEmpty()) {
            throw new IllegalArgumentException("the webhook secret is empty");
        }
        this.secretDigest = sha256(secret.getBytes(UTF_8));
    }

    /** @throws KilnException {@link ErrorCode#UNAUTHENTICATED} when the header is missing or is not the secret */
    public void check(String tokenHeader) {
        if (tokenHeader == null || tokenHeader.isEmpty()) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "the hook has no X-Gitlab-Token: set the secret token in GitLab's webhook settings");
        }
        if (!MessageDigest.isEqual(secretDigest, sha256(tokenHeader.getBytes(UTF_8)))) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "the hook's X-Gitlab-Token is not Kiln's webhook secret");
        }
    }

    /**
     * Reads a verified hook's body, at most {@link #MAX_BODY_BYTES}.
     *
     * @param contentLength the declared length, or -1 when unknown
     * @throws KilnException {@link ErrorCode#PAYLOAD_TOO_LARGE} as soon as the body (or its declared length) passes the bound
     */
    public byte[] readBody(InputStream in, long contentLength) throws IOException {
        if (contentLength > MAX_BODY_BYTES) {
            throw tooLarge(contentLength);
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(contentLength > 0 ? (int) contentLength : 4096);
        byte[] chunk = new byte[CHUNK];
        int read;
        while ((read = in.read(chunk)) != -1) {
            if (out.size() + read > MAX_BODY_BYTES) {
                throw tooLarge(out.size() + read);
            }
            out.write(chunk, 0, read);
        }
        return out.toByteArray();
    }

    private static KilnException tooLarge(long bytes) {
        return new KilnException(ErrorCode.PAYLOAD_TOO_LARGE, "the hook's body has " + (bytes > MAX_BODY_BYTES ? "more than " : "") + MAX_BODY_BYTES
                + " bytes, Kiln's bound for a GitLab hook (a Job Hook has a few kilobytes)");
    }

    private static byte[] sha256(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
