package dev.kiln.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import java.io.ByteArrayInputStream;
import org.junit.jupiter.api.Test;

class WebhookVerifierTest {
    private static final String SECRET = "It's a Secret to Everybody";
    private static final byte[] BODY = "Hello, World!".getBytes(UTF_8);
    /** GitHub's official test vector (ci-protocols.md §1.1). */
    private static final String SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    private final WebhookVerifier verifier = new WebhookVerifier(Secret.of(SECRET), 1024);

    @Test
    void acceptsGitHubsTestVector() {
        assertThat(verifier.sign(BODY)).isEqualTo(SIGNATURE);
        assertThatCode(() -> verify(verifier, BODY, SIGNATURE)).doesNotThrowAnyException();
        assertThatCode(() -> verify(verifier, BODY, SIGNATURE.toUpperCase().replace("SHA256=", "sha256="))).doesNotThrowAnyException();
    }

    @Test
    void refusesAWrongMissingOrMalformedSignatureWith401() {
        String otherBody = SIGNATURE.substring(0, SIGNATURE.length() - 1) + "0";
        assertRefused(() -> verify(verifier, BODY, otherBody), 401, "does not match its body");
        assertRefused(() -> verify(verifier, "Hello, World?".getBytes(UTF_8), SIGNATURE), 401, "does not match its body");
        assertRefused(() -> verify(new WebhookVerifier(Secret.of("another secret")), BODY, SIGNATURE), 401, "does not match");
        assertRefused(() -> verify(verifier, BODY, null), 401, "no X-Hub-Signature-256");
        assertRefused(() -> verify(verifier, BODY, "sha1=0123"), 401, "not 'sha256='");
        assertRefused(() -> verify(verifier, BODY, "sha256=" + "zz".repeat(32)), 401, "not 'sha256='");
    }

    @Test
    void refusesABodyBeyondTheBoundWith413WhetherOrNotContentLengthSaidSo() {
        String signed = verifier.sign(new byte[1024]);
        assertRefused(() -> read(verifier, new ByteArrayInputStream(new byte[2048]), 2048, signed), 413, "2048 bytes");
        assertRefused(() -> read(verifier, new ByteArrayInputStream(new byte[2048]), -1, signed), 413, "more than 1024 bytes");
        assertThatCode(() -> assertThat(read(verifier, new ByteArrayInputStream(new byte[1024]), -1, signed)).hasSize(1024))
                .doesNotThrowAnyException();
        assertRefused(() -> verify(verifier, new byte[1025], SIGNATURE), 413, "at most 1024");
    }

    @Test
    void readingChecksTheSignatureAsTheBytesArrive() throws Exception {
        assertThat(read(verifier, new ByteArrayInputStream(BODY), BODY.length, SIGNATURE)).isEqualTo(BODY);
        assertRefused(() -> read(verifier, new ByteArrayInputStream("Hello, World?".getBytes(UTF_8)), -1, SIGNATURE), 401,
                "does not match its body");
        // A missing or malformed signature is refused before a byte of the body is read.
        java.io.InputStream untouchable = new java.io.InputStream() {
            @Override
            public int read() {
                throw new AssertionError("the body was read");
            }
        };
        assertRefused(() -> read(verifier, untouchable, 5_000_000, null), 413, "5000000 bytes");
        assertRefused(() -> read(verifier, untouchable, 100, null), 401, "no X-Hub-Signature-256");
        assertRefused(() -> read(verifier, untouchable, 100, "sha256=beef"), 401, "not 'sha256='");
    }

    @Test
    void bytesBeyondTheFreeAllowanceAreReservedAsTheyArriveAndReleased() throws Exception {
        WebhookVerifier large = new WebhookVerifier(Secret.of(SECRET), 1 << 20);
        byte[] body = new byte[300_000];
        java.util.Arrays.fill(body, (byte) 'x');
        java.util.List<Long> steps = new java.util.ArrayList<>();
        long[] held = {0, 0};
        BodyMemory memory = new BodyMemory() {
            @Override
            public void reserve(int bytes) {
                held[0] += bytes;
                held[1] = Math.max(held[1], held[0]);
                steps.add((long) bytes);
            }

            @Override
            public void release(long bytes) {
                held[0] -= bytes;
            }
        };
        // Declared large, sent in small pieces: reservations follow the bytes that came, not the header.
        java.io.InputStream trickle = new java.io.FilterInputStream(new ByteArrayInputStream(body)) {
            @Override
            public int read(byte[] b, int off, int len) throws java.io.IOException {
                return super.read(b, off, Math.min(len, 1000));
            }
        };
        assertThat(large.readVerified(trickle, body.length, large.sign(body), memory)).isEqualTo(body);
        assertThat(held[0]).as("held after the read").isZero();
        long chunks = (body.length + WebhookVerifier.CHUNK_BYTES - 1) / WebhookVerifier.CHUNK_BYTES;
        assertThat(held[1]).as("the most held at once").isEqualTo(chunks * WebhookVerifier.CHUNK_BYTES - WebhookVerifier.FREE_BYTES);
        assertThat(steps).allMatch(step -> step == WebhookVerifier.CHUNK_BYTES);

        // A wrong signature releases what it held too, as does a body that runs past the bound.
        assertRefused(() -> large.readVerified(new ByteArrayInputStream(body), -1, SIGNATURE, memory), 401, "does not match");
        assertThat(held[0]).isZero();
        assertRefused(() -> large.readVerified(new ByteArrayInputStream(new byte[(1 << 20) + 1]), -1, SIGNATURE, memory), 413,
                "more than 1048576");
        assertThat(held[0]).isZero();
        // A small delivery never reserves.
        steps.clear();
        large.readVerified(new ByteArrayInputStream(BODY), BODY.length, large.sign(BODY), memory);
        assertThat(steps).isEmpty();
    }

    /** A whole body as the server reads one, its Content-Length given. */
    private static byte[] verify(WebhookVerifier verifier, byte[] body, String signature) throws Exception {
        return read(verifier, new ByteArrayInputStream(body), body.length, signature);
    }

    private static byte[] read(WebhookVerifier verifier, java.io.InputStream in, long length, String signature)
            throws Exception {
        return verifier.readVerified(in, length, signature, BodyMemory.UNBOUNDED);
    }

    @Test
    void theMessagesNeverCarryTheSecret() {
        assertThatThrownBy(() -> verify(verifier, BODY, "sha256=" + "00".repeat(32))).satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
        assertThat(Secret.of(SECRET).toString()).doesNotContain(SECRET);
    }

    private static void assertRefused(org.assertj.core.api.ThrowableAssert.ThrowingCallable call, int status, String message) {
        assertThatThrownBy(call).isInstanceOfSatisfying(WebhookException.class, e -> {
            assertThat(e.httpStatus()).isEqualTo(status);
            assertThat(e.code()).isEqualTo(switch (status) {
                case 401 -> ErrorCode.UNAUTHENTICATED;
                case 413 -> ErrorCode.PAYLOAD_TOO_LARGE;
                default -> ErrorCode.INVALID_ARGUMENT;
            });
        }).hasMessageContaining(message);
    }
}
