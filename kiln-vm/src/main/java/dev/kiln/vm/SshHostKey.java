package dev.kiln.vm;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.interfaces.EdECPrivateKey;
import java.util.Arrays;
import java.util.Base64;

/**
 * A VM's own SSH host key (Ed25519), made by the host before the boot: the private half goes to the guest's sshd
 * through the config drive, the public half to the gateway through the agent's report, so the gateway's hop to the
 * VM is verified, never trusted on first use. Made in Java (no ssh-keygen process per VM) and written in OpenSSH's
 * own private key format ("openssh-key-v1", unencrypted), which sshd reads.
 *
 * @param privateKey the OpenSSH private key file's text; a secret, never printed
 * @param publicKey the public key as an authorized_keys / known_hosts line body: {@code ssh-ed25519 BASE64}
 */
public record SshHostKey(String privateKey, String publicKey) {
    private static final String TYPE = "ssh-ed25519";
    /** The X.509 SubjectPublicKeyInfo of an Ed25519 key is this prefix and the key's 32 bytes. */
    private static final int X509_PREFIX = 12;

    public static SshHostKey generate(String comment) {
        KeyPair pair;
        try {
            pair = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK cannot make Ed25519 keys", e);
        }
        byte[] encoded = pair.getPublic().getEncoded();
        byte[] pub = Arrays.copyOfRange(encoded, X509_PREFIX, encoded.length);
        byte[] seed = ((EdECPrivateKey) pair.getPrivate()).getBytes().orElseThrow();
        byte[] publicBlob = publicBlob(pub);

        Buffer secret = new Buffer();
        int check = new SecureRandom().nextInt();
        secret.uint32(check).uint32(check).string(TYPE).string(pub);
        byte[] both = new byte[64];
        System.arraycopy(seed, 0, both, 0, 32);
        System.arraycopy(pub, 0, both, 32, 32);
        secret.string(both).string(comment);
        for (int pad = 1; secret.size() % 8 != 0; pad++) {
            secret.write(pad);
        }
        Buffer file = new Buffer();
        file.writeBytes("openssh-key-v1\0".getBytes(StandardCharsets.US_ASCII));
        file.string("none").string("none").string(new byte[0]).uint32(1).string(publicBlob).string(secret.toByteArray());
        Arrays.fill(both, (byte) 0);
        Arrays.fill(seed, (byte) 0);
        String body = Base64.getMimeEncoder(70, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(file.toByteArray());
        return new SshHostKey("-----BEGIN OPENSSH PRIVATE KEY-----\n" + body + "\n-----END OPENSSH PRIVATE KEY-----\n",
                TYPE + " " + Base64.getEncoder().encodeToString(publicBlob));
    }

    private static byte[] publicBlob(byte[] pub) {
        return new Buffer().string(TYPE).string(pub).toByteArray();
    }

    @Override
    public String toString() {
        return "SshHostKey[" + publicKey + "]";
    }

    /** SSH's wire encoding: big-endian uint32s and length-prefixed strings. */
    private static final class Buffer extends ByteArrayOutputStream {
        Buffer uint32(int value) {
            write(value >>> 24);
            write(value >>> 16);
            write(value >>> 8);
            write(value);
            return this;
        }

        Buffer string(byte[] value) {
            uint32(value.length);
            writeBytes(value);
            return this;
        }

        Buffer string(String value) {
            return string(value.getBytes(StandardCharsets.UTF_8));
        }
    }
}
