package dev.kiln.github;

import dev.kiln.testkit.github.AppKeys;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.util.Arrays;
import java.util.Base64;

/** Real RSA keys for tests, and their PEM forms (PKCS#8 and the PKCS#1 that GitHub hands out). */
final class TestKeys {
    static final KeyPair APP = generate();

    private TestKeys() {}

    static KeyPair generate() {
        return AppKeys.generate();
    }

    static RSAPrivateKey privateKey() {
        return (RSAPrivateKey) APP.getPrivate();
    }

    static String pkcs8Pem(KeyPair pair) {
        return pem("PRIVATE KEY", pair.getPrivate().getEncoded());
    }

    /** The PKCS#1 RSAPrivateKey inside the PKCS#8 encoding, whose 26-byte header for a 2048-bit key is fixed. */
    static String pkcs1Pem(KeyPair pair) {
        byte[] pkcs8 = pair.getPrivate().getEncoded();
        byte[] header = Arrays.copyOfRange(pkcs8, 4, 22);
        byte[] expected = {0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86, (byte) 0xf7,
                0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
        if (!Arrays.equals(header, expected) || pkcs8[22] != 0x04 || pkcs8[23] != (byte) 0x82) {
            throw new IllegalStateException("unexpected PKCS#8 layout from this JDK; cannot cut out PKCS#1 for the test");
        }
        return pem("RSA PRIVATE KEY", Arrays.copyOfRange(pkcs8, 26, pkcs8.length));
    }

    static Path write(Path dir, String name, String text) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
