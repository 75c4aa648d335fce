package dev.kiln.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.util.Objects.requireNonNull;

import java.security.GeneralSecurityException;
import java.security.Signature;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Base64;

/**
 * The App's JSON web token (RS256): {@code iat} 60 s in the past against clock drift, {@code exp} 9 minutes
 * ahead (GitHub refuses more than 10), {@code iss} the App id. One token is reused for 5 minutes. When
 * GitHub's clock differs from ours, {@link #correctSkew} shifts the claims by the difference. Thread-safe.
 */
final class AppJwt {
    static final Duration BACKDATE = Duration.ofSeconds(60);
    static final Duration LIFETIME = Duration.ofSeconds(540);
    static final Duration REUSE = Duration.ofMinutes(5);
    private static final Base64.Encoder B64URL = Base64.getUrlEncoder().withoutPadding();
    private static final String HEADER = B64URL.encodeToString("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".getBytes(UTF_8));

    private final long appId;
    private final RSAPrivateKey key;
    private final InstantSource clock;
    private String token;
    private Instant mintedAt = Instant.MIN;
    private Duration skew = Duration.ZERO;

    AppJwt(long appId, RSAPrivateKey key, InstantSource clock) {
        this.appId = appId;
        this.key = requireNonNull(key, "key is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    synchronized String get() {
        Instant now = clock.instant();
        if (token == null || now.isBefore(mintedAt) || !now.isBefore(mintedAt.plus(REUSE))) {
            token = mint(now.plus(skew));
            mintedAt = now;
        }
        return token;
    }

    /** GitHub's clock reads {@code serverNow} while ours reads now: mint later tokens on GitHub's time. */
    synchronized boolean correctSkew(Instant serverNow) {
        Duration newSkew = Duration.between(clock.instant(), serverNow);
        if (newSkew.minus(skew).abs().compareTo(Duration.ofSeconds(30)) < 0) {
            return false;
        }
        skew = newSkew;
        token = null;
        return true;
    }

    private String mint(Instant now) {
        long iat = now.minus(BACKDATE).getEpochSecond();
        long exp = now.plus(LIFETIME).getEpochSecond();
        String claims = B64URL.encodeToString(("{\"iat\":" + iat + ",\"exp\":" + exp + ",\"iss\":\"" + appId + "\"}").getBytes(UTF_8));
        String signingInput = HEADER + "." + claims;
        try {
            Signature signature = Signature.getInstance("SHA256withRSA");
            signature.initSign(key);
            signature.update(signingInput.getBytes(UTF_8));
            return signingInput + "." + B64URL.encodeToString(signature.sign());
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign the App JWT with the App's key: " + e.getClass().getSimpleName(), e);
        }
    }
}
