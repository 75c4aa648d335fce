package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.InputStream;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks a GitHub webhook delivery before anything reads it: the body is read up to a bound, then its
 * {@code X-Hub-Signature-256} (HMAC-SHA256 of the raw bytes with the webhook secret) is compared in
 * constant time.
 *
 * <p>The bound: GitHub caps deliveries at 25 MB, but the events Kiln subscribes to ({@code workflow_job},
 * {@code ping}, {@code installation}) are a few kilobytes; an installation event listing thousands of
 * repositories stays under a megabyte. {@link #DEFAULT_MAX_BODY_BYTES} is 5 MiB: generous for those, small
 * enough that a flood of large bodies cannot exhaust memory. The bound is a constructor argument.
 */
public final class WebhookVerifier {
    public static final int DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;
    static final String PREFIX = "sha256=";

    private final Secret secret;
    private final int maxBodyBytes;

    public WebhookVerifier(Secret secret) {
        this(secret, DEFAULT_MAX_BODY_BYTES);
    }

    public WebhookVerifier(Secret secret, int maxBodyBytes) {
        this.secret = requireNonNull(secret, "secret is null");
        if (maxBodyBytes < 1) {
            throw new IllegalArgumentException("maxBodyBytes must be positive, got " + maxBodyBytes);
        }
        this.maxBodyBytes = maxBodyBytes;
    }

    public int maxBodyBytes() {
        return maxBodyBytes;
    }

    /**
     * Reads a delivery's body, refusing more than the bound (413) whether or not a {@code Content-Length}
     * said so. {@code contentLength} is -1 when unknown.
     */
    public byte[] readBody(InputStream in, long contentLength) throws IOException {
        if (contentLength > maxBodyBytes) {
            throw WebhookException.tooLarge("the delivery has " + contentLength + " bytes; Kiln accepts at most " + maxBodyBytes);
        }
        byte[] body = in.readNBytes(maxBodyBytes + 1);
        if (body.length > maxBodyBytes) {
            throw WebhookException.tooLarge("the delivery has more than " + maxBodyBytes + " bytes; Kiln accepts at most " + maxBodyBytes);
        }
        return body;
    }

    /**
     * @param signatureHeader the {@code X-Hub-Signature-256} header, or null when absent
     * @throws WebhookException 401 when the signature is missing, malformed or wrong; 413 when the body is too large
     */
    public void verify(byte[] body, String signatureHeader) {
        requireNonNull(body, "body is null");
        if (body.length > maxBodyBytes) {
            throw WebhookException.tooLarge("the delivery has " + body.length + " bytes; Kiln accepts at most " + maxBodyBytes);
        }
        if (signatureHeader == null || signatureHeader.isBlank()) {
            throw WebhookException.unauthenticated("the delivery has no X-Hub-Signature-256 header: set a webhook secret"
                    + " in the App's settings, the same as Kiln's");
        }
        String header = signatureHeader.strip();
        if (!header.startsWith(PREFIX) || header.length() != PREFIX.length() + 64) {
            throw WebhookException.unauthenticated("the X-Hub-Signature-256 header is not 'sha256=' followed by 64 hex digits");
        }
        byte[] given;
        try {
            given = HexFormat.of().parseHex(header.substring(PREFIX.length()).toLowerCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw WebhookException.unauthenticated("the X-Hub-Signature-256 header is not 'sha256=' followed by 64 hex digits");
        }
        if (!MessageDigest.isEqual(given, hmac(body))) {
            throw WebhookException.unauthenticated("the delivery's X-Hub-Signature-256 does not match its body: the webhook"
                    + " secret in the App's settings differs from Kiln's, or the body was changed on the way");
        }
    }

    /** {@code sha256=<hex>} for a body, as GitHub computes it. */
    public String sign(byte[] body) {
        return PREFIX + HexFormat.of().formatHex(hmac(body));
    }

    private byte[] hmac(byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.bytes(), "HmacSHA256"));
            return mac.doFinal(body);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available: " + e.getMessage(), e);
        }
    }
}
