package dev.kiln.github;

import java.io.ByteArrayOutputStream;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.interfaces.RSAPrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a GitHub App's private key from PEM: PKCS#1 ({@code BEGIN RSA PRIVATE KEY}, what GitHub hands
 * out) or PKCS#8 ({@code BEGIN PRIVATE KEY}). PKCS#1 is wrapped into PKCS#8 by hand, so no library is
 * needed. Messages never quote the key.
 */
final class PemKeys {
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN (RSA PRIVATE KEY|PRIVATE KEY)-----([A-Za-z0-9+/=\\s]+)-----END \\1-----");
    /** AlgorithmIdentifier of rsaEncryption: SEQUENCE { OID 1.2.840.113549.1.1.1, NULL }. */
    private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
            (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};

    private PemKeys() {}

    /**
     * @param pem the file's text
     * @param source where it came from, for messages (a path)
     * @throws IllegalArgumentException naming the source and what is wrong, never the key
     */
    static RSAPrivateKey parse(String pem, String source) {
        if (pem.contains("ENCRYPTED")) {
            throw new IllegalArgumentException(source + " holds an encrypted private key; give the key GitHub "
                    + "generated for the App (unencrypted PEM)");
        }
        Matcher matcher = PEM.matcher(pem);
        if (!matcher.find()) {
            throw new IllegalArgumentException(source + " holds no PEM private key (expected '-----BEGIN RSA PRIVATE"
                    + " KEY-----' as GitHub generates it, or '-----BEGIN PRIVATE KEY-----')");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(matcher.group(2));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + " holds a PEM block that is not valid base64", e);
        }
        byte[] pkcs8 = matcher.group(1).equals("RSA PRIVATE KEY") ? wrapPkcs1(der) : der;
        try {
            return (RSAPrivateKey) KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
        } catch (GeneralSecurityException | ClassCastException e) {
            throw new IllegalArgumentException(source + " holds a PEM block that is not an RSA private key ("
                    + e.getClass().getSimpleName() + ")", e);
        }
    }

    /** PrivateKeyInfo ::= SEQUENCE { INTEGER 0, AlgorithmIdentifier rsaEncryption, OCTET STRING pkcs1 }. */
    static byte[] wrapPkcs1(byte[] pkcs1) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(new byte[] {0x02, 0x01, 0x00}, 0, 3);
        body.write(RSA_ALGORITHM, 0, RSA_ALGORITHM.length);
        body.write(0x04);
        writeLength(body, pkcs1.length);
        body.write(pkcs1, 0, pkcs1.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0x30);
        writeLength(out, body.size());
        byte[] inner = body.toByteArray();
        out.write(inner, 0, inner.length);
        return out.toByteArray();
    }

    private static void writeLength(ByteArrayOutputStream out, int length) {
        if (length < 0x80) {
            out.write(length);
            return;
        }
        int bytes = length > 0xffffff ? 4 : length > 0xffff ? 3 : length > 0xff ? 2 : 1;
        out.write(0x80 | bytes);
        for (int i = bytes - 1; i >= 0; i--) {
            out.write((length >>> (8 * i)) & 0xff);
        }
    }
}
