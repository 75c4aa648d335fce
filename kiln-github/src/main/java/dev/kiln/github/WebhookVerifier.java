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
 * Checks a GitHub webhook delivery before anything reads it: its {@code X-Hub-Signature-256} (HMAC-SHA256
 * of the raw bytes with the webhook secret) is computed as the body arrives, with the bound enforced as it
 * arrives, and compared in constant time.
 *
 * <p>The bound: GitHub caps deliveries at 25 MB, but the events Kiln subscribes to ({@code workflow_job},
 * {@code ping}, {@code installation}) are a few kilobytes; an installation event listing thousands of
 * repositories stays under a megabyte. {@link #DEFAULT_MAX_BODY_BYTES} is 5 MiB: generous for those, small
 * enough that a flood of large bodies cannot exhaust memory. The bound is a constructor argument.
 */
public final class WebhookVerifier {
    public static final int DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;
    /**
     * Bytes every delivery may hold before it reserves from the shared {@link BodyMemory}: a
     * {@code workflow_job} delivery is 5 to 20 KB, so GitHub's usual deliveries never wait on a flood of
     * large ones.
     */
    public static final int FREE_BYTES = 64 * 1024;
    static final int CHUNK_BYTES = 16 * 1024;
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
     * Reads a delivery's body and checks its signature as the bytes arrive: the header is checked before a
     * byte is read (401 at once when it is missing or malformed), the bound as bytes arrive (413, whether or
     * not a {@code Content-Length} said so), the HMAC is computed while reading, and every byte past
     * {@link #FREE_BYTES} is reserved from {@code memory} before it is read (released before returning).
     *
     * @param contentLength the declared length, or -1 when unknown
     * @return the body, whose signature holds
     * @throws WebhookException 401, 413, or 503 when {@code memory} had no room in time
     */
    public byte[] readVerified(InputStream in, long contentLength, String signatureHeader, BodyMemory memory)
            throws IOException {
        requireNonNull(in, "in is null");
        requireNonNull(memory, "memory is null");
        if (contentLength > maxBodyBytes) {
            throw WebhookException.tooLarge("the delivery has " + contentLength + " bytes; Kiln accepts at most " + maxBodyBytes);
        }
        byte[] given = expected(signatureHeader);
        Mac mac = mac();
        // Chunks, not a growing array: what a body holds is what it sent (to the next chunk), never a
        // doubled capacity, and never a Content-Length the sender only declared.
        java.util.List<byte[]> chunks = new java.util.ArrayList<>();
        byte[] chunk = null;
        int filled = 0;
        long length = 0;
        long reserved = 0;
        try {
            while (true) {
                if (chunk == null || filled == chunk.length) {
                    long held = (long) (chunks.size() + 1) * CHUNK_BYTES;
                    if (held > FREE_BYTES + reserved) {
                        memory.reserve(CHUNK_BYTES);
                        reserved += CHUNK_BYTES;
                    }
                    chunk = new byte[CHUNK_BYTES];
                    chunks.add(chunk);
                    filled = 0;
                }
                int read = in.read(chunk, filled, chunk.length - filled);
                if (read < 0) {
                    break;
                }
                mac.update(chunk, filled, read);
                filled += read;
                length += read;
                if (length > maxBodyBytes) {
                    throw WebhookException.tooLarge("the delivery has more than " + maxBodyBytes
                            + " bytes; Kiln accepts at most " + maxBodyBytes);
                }
            }
            if (!MessageDigest.isEqual(given, mac.doFinal())) {
                throw mismatch();
            }
            byte[] body = new byte[(int) length];
            int at = 0;
            for (byte[] part : chunks) {
                int n = Math.min(part.length, body.length - at);
                System.arraycopy(part, 0, body, at, n);
                at += n;
            }
            return body;
        } finally {
            memory.release(reserved);
        }
    }

    private static byte[] expected(String signatureHeader) {
        if (signatureHeader == null || signatureHeader.isBlank()) {
            throw WebhookException.unauthenticated("the delivery has no X-Hub-Signature-256 header: set a webhook secret"
                    + " in the App's settings, the same as Kiln's");
        }
        String header = signatureHeader.strip();
        if (!header.startsWith(PREFIX) || header.length() != PREFIX.length() + 64) {
            throw WebhookException.unauthenticated("the X-Hub-Signature-256 header is not 'sha256=' followed by 64 hex digits");
        }
        try {
            return HexFormat.of().parseHex(header.substring(PREFIX.length()).toLowerCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw WebhookException.unauthenticated("the X-Hub-Signature-256 header is not 'sha256=' followed by 64 hex digits");
        }
    }

    private static WebhookException mismatch() {
        return WebhookException.unauthenticated("the delivery's X-Hub-Signature-256 does not match its body: the webhook"
                + " secret in the App's settings differs from Kiln's, or the body was changed on the way");
    }

    /** {@code sha256=<hex>} for a body, as GitHub computes it. */
    public String sign(byte[] body) {
        return PREFIX + HexFormat.of().formatHex(hmac(body));
    }

    private byte[] hmac(byte[] body) {
        return mac().doFinal(body);
    }

    private Mac mac() {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.bytes(), "HmacSHA256"));
            return mac;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available: " + e.getMessage(), e);
        }
    }
}
