package dev.kiln.testkit.github;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.PublicKey;
import java.security.Signature;
import java.time.Instant;
import java.util.Base64;

/**
 * Checks an App JWT as GitHub does (ci-protocols.md §2.1, §7.1): RS256 signed by the App's key, integer
 * {@code iat} and {@code exp}, {@code exp} in the future and at most 10 minutes ahead, {@code iss} the App id
 * or client id. Answers with GitHub's messages.
 */
final class FakeJwt {
    static final String UNDECODABLE = "A JSON web token could not be decoded";
    static final String EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future";
    static final String EXP_INVALID = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    static final String IAT_INVALID = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
    /** GitHub's answer to an {@code iss} that names no App [inf: the message is what GitHub returns for an unknown App]. */
    static final String UNKNOWN_ISSUER = "Integration not found";
    private static final ObjectMapper JSON = new ObjectMapper();

    private FakeJwt() {}

    /** Null when the token is good, else GitHub's 401 message. */
    static String check(String jwt, PublicKey key, long appId, String clientId, Instant now) {
        String[] parts = jwt.split("\\.", -1);
        if (parts.length != 3) {
            return UNDECODABLE;
        }
        JsonNode header;
        JsonNode claims;
        try {
            Base64.Decoder b64 = Base64.getUrlDecoder();
            header = JSON.readTree(b64.decode(parts[0]));
            claims = JSON.readTree(b64.decode(parts[1]));
            Signature signature = Signature.getInstance("SHA256withRSA");
            signature.initVerify(key);
            signature.update((parts[0] + "." + parts[1]).getBytes(UTF_8));
            if (!"RS256".equals(header.path("alg").asText()) || !signature.verify(b64.decode(parts[2]))) {
                return UNDECODABLE;
            }
        } catch (IOException | IllegalArgumentException | GeneralSecurityException e) {
            return UNDECODABLE;
        }
        if (claims == null || !claims.isObject()) {
            return UNDECODABLE;
        }
        JsonNode iat = claims.get("iat");
        JsonNode exp = claims.get("exp");
        if (iat == null || !iat.isIntegralNumber()) {
            return IAT_INVALID;
        }
        if (exp == null || !exp.isIntegralNumber() || exp.asLong() <= now.getEpochSecond()) {
            return EXP_INVALID;
        }
        if (exp.asLong() > now.getEpochSecond() + 600) {
            return EXP_TOO_FAR;
        }
        if (iat.asLong() > now.getEpochSecond() + 60) {
            return IAT_INVALID;
        }
        JsonNode iss = claims.get("iss");
        String issuer = iss == null ? "" : iss.asText();
        if (!issuer.equals(Long.toString(appId)) && !issuer.equals(clientId)) {
            return UNKNOWN_ISSUER;
        }
        return null;
    }

    static boolean looksLikeJwt(String credential) {
        return credential.startsWith("eyJ") && credential.chars().filter(c -> c == '.').count() == 2;
    }
}
