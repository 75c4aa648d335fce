package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host keys Kiln writes for VMs are OpenSSH's own format: the real ssh-keygen reads them. */
class SshHostKeyTest {
    @TempDir
    Path dir;

    @Test
    void opensshReadsThePrivateKeyAndDerivesTheSamePublicKey() throws Exception {
        SshHostKey key = SshHostKey.generate("vm-7");
        Path file = dir.resolve("host_key");
        Files.writeString(file, key.privateKey());
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));

        assertThat(run("ssh-keygen", "-y", "-f", file.toString())).isEqualTo(key.publicKey() + " vm-7");
        String fingerprint = run("ssh-keygen", "-l", "-f", file.toString());
        assertThat(fingerprint).startsWith("256 SHA256:").endsWith("vm-7 (ED25519)");
    }

    @Test
    void everyVmGetsAKeyOfItsOwn() {
        assertThat(SshHostKey.generate("a").publicKey()).isNotEqualTo(SshHostKey.generate("a").publicKey());
        assertThat(SshHostKey.generate("a").toString()).doesNotContain("PRIVATE");
    }

    private static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(process.waitFor()).as("%s: %s", String.join(" ", command), out).isZero();
        return out;
    }
}
