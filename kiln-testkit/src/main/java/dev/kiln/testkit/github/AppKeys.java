package dev.kiln.testkit.github;

import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;

/** A GitHub App's key pair for tests: the private half signs Kiln's JWTs, the public half is the fake's. */
public final class AppKeys {
    private AppKeys() {}

    /** A fresh 2048-bit RSA pair, as GitHub generates for an App. */
    public static KeyPair generate() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return generator.generateKeyPair();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("RSA key generation is not available", e);
        }
    }
}
