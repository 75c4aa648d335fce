package dev.kiln.testkit.debian;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * An OpenPGP key that signs a fake archive's {@code InRelease} as Debian's archive keys sign theirs: made with the
 * real gpg in a home directory of its own (an ed25519 signing key, no passphrase), its public half exported as a
 * keyring file that gpgv reads ({@link #keyring}). {@link #close} stops the gpg-agent it started and removes the
 * directory.
 */
public final class TestArchiveKey implements AutoCloseable {
    private final Path home;
    private final Path keyring;

    private TestArchiveKey(Path home, Path keyring) {
        this.home = home;
        this.keyring = keyring;
    }

    /** Makes a key in a new directory under {@code dir}; fails saying so when gpg is not installed. */
    public static TestArchiveKey create(Path dir, String name) {
        try {
            Path home = Files.createTempDirectory(dir, "gnupg-");
            Files.setPosixFilePermissions(home, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
            TestArchiveKey key = new TestArchiveKey(home, home.resolve("archive-keyring.gpg"));
            key.gpg(List.of("--passphrase", "", "--quick-generate-key", name + " <archive@kiln.test>", "ed25519", "sign",
                    "never"), null);
            Files.write(key.keyring, key.gpg(List.of("--export"), null));
            return key;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The public key as a keyring file, as {@code /usr/share/keyrings/debian-archive-keyring.gpg} is. */
    public Path keyring() {
        return keyring;
    }

    /** {@code text} clear-signed, as an archive's InRelease. */
    public byte[] clearSign(byte[] text) {
        return gpg(List.of("--pinentry-mode", "loopback", "--passphrase", "", "--digest-algo", "SHA256", "--clearsign"),
                text);
    }

    private byte[] gpg(List<String> args, byte[] input) {
        List<String> command = new ArrayList<>(List.of("gpg", "--homedir", home.toString(), "--batch", "--yes",
                "--no-tty", "--quiet"));
        command.addAll(args);
        Process process;
        try {
            process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        } catch (IOException e) {
            throw new IllegalStateException("the fake Debian archive signs with gpg, which is not installed"
                    + " (apt-get install gnupg, or run bin/setup)", e);
        }
        try {
            try (var in = process.getOutputStream()) {
                if (input != null) {
                    in.write(input);
                }
            }
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                process.destroyForcibly().waitFor();
                throw new IllegalStateException("gpg " + args + " failed (exit " + process.exitValue() + ")");
            }
            return output;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running gpg", e);
        }
    }

    @Override
    public void close() {
        try {
            Process stop = new ProcessBuilder("gpgconf", "--homedir", home.toString(), "--kill", "all")
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            stop.waitFor(30, TimeUnit.SECONDS);
        } catch (IOException e) {
            // no gpgconf: no agent was started through it either
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (var files = Files.walk(home)) {
            for (Path file : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            // the test's temporary directory removes what is left
        }
    }
}
