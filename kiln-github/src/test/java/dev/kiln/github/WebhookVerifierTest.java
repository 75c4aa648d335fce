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
        assertThatCode(() -> verifier.verify(BODY, SIGNATURE)).doesNotThrowAnyException();
        assertThatCode(() -> verifier.verify(BODY, SIGNATURE.toUpperCase().replace("SHA256=", "sha256="))).doesNotThrowAnyException();
    }

    @Test
    void refusesAWrongMissingOrMalformedSignatureWith401() {
        String otherBody = SIGNATURE.substring(0, SIGNATURE.length() - 1) + "0";
        assertRefused(() -> verifier.verify(BODY, otherBody), 401, "does not match its body");
        assertRefused(() -> verifier.verify("Hello, World?".getBytes(UTF_8), SIGNATURE), 401, "does not match its body");
        assertRefused(() -> new WebhookVerifier(Secret.of("another secret")).verify(BODY, SIGNATURE), 401, "does not match");
        assertRefused(() -> verifier.verify(BODY, null), 401, "no X-Hub-Signature-256");
        assertRefused(() -> verifier.verify(BODY, "sha1=0123"), 401, "not 'sha256='");
        assertRefused(() -> verifier.verify(BODY, "sha256=" + "zz".repeat(32)), 401, "not 'sha256='");
    }

    @Test
    void refusesABodyBeyondTheBoundWith413WhetherOrNotContentLengthSaidSo() {
        assertRefused(() -> verifier.readBody(new ByteArrayInputStream(new byte[2048]), 2048), 413, "2048 bytes");
        assertRefused(() -> verifier.readBody(new ByteArrayInputStream(new byte[2048]), -1), 413, "more than 1024 bytes");
        assertThatCode(() -> assertThat(verifier.readBody(new ByteArrayInputStream(new byte[1024]), -1)).hasSize(1024))
                .doesNotThrowAnyException();
        assertRefused(() -> verifier.verify(new byte[1025], SIGNATURE), 413, "at most 1024");
    }

    @Test
    void theMessagesNeverCarryTheSecret() {
        assertThatThrownBy(() -> verifier.verify(BODY, "sha256=" + "00".repeat(32))).satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
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
