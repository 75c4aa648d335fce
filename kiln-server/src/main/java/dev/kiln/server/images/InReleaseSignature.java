package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Checks a Debian archive's {@code InRelease} as apt does: {@code gpgv} with the archive's keyring, accepting the text
 * only with a good signature from a key in it ({@code VALIDSIG} on gpgv's status output) and exit 0, and answering the
 * signed text alone (what follows the signature's armour is never read).
 */
final class InReleaseSignature {
    private static final long TIMEOUT_SECONDS = 30;
    private static final int MAX_OUTPUT = 1 << 16;

    private final Path keyring;
    private final Path workDir;

    InReleaseSignature(Path keyring, Path workDir) {
        // gpgv reads a keyring named without a slash from its home directory: the configured file, wherever it is.
        this.keyring = requireNonNull(keyring, "keyring is null").toAbsolutePath();
        this.workDir = requireNonNull(workDir, "workDir is null");
    }

    /** Where gpgv is, or null: the pipeline then refuses to start with a keyring configured. */
    static Path gpgv() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir, "gpgv");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        return null;
    }

    Path keyring() {
        return keyring;
    }

    /** The signed text of {@code inRelease}, fetched from {@code from}; refused unless a key of the keyring signed it. */
    String verify(byte[] inRelease, String from) {
        Path gpgv = gpgv();
        if (gpgv == null) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "gpgv is not installed: it checks " + from
                    + " against " + keyring + " (apt-get install gpgv, or run bin/setup)");
        }
        Path in = null;
        Path out = null;
        try {
            Files.createDirectories(workDir);
            in = Files.createTempFile(workDir, "InRelease-", "");
            out = in.resolveSibling(in.getFileName() + ".text");
            Files.write(in, inRelease);
            Process process = new ProcessBuilder(List.of(gpgv.toString(), "--status-fd", "1", "--keyring",
                    keyring.toString(), "--output", out.toString(), in.toString())).redirectErrorStream(true).start();
            String status;
            try (InputStream output = process.getInputStream()) {
                status = new String(output.readNBytes(MAX_OUTPUT), StandardCharsets.UTF_8);
                output.transferTo(java.io.OutputStream.nullOutputStream());
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, "gpgv took more than %d s over %s: refused"
                        .formatted(TIMEOUT_SECONDS, from));
            }
            boolean valid = status.lines().anyMatch(line -> line.startsWith("[GNUPG:] VALIDSIG "));
            boolean bad = status.lines().anyMatch(line -> line.startsWith("[GNUPG:] BADSIG "));
            if (process.exitValue() != 0 || !valid || bad) {
                String said = status.lines().filter(line -> !line.startsWith("[GNUPG:]")).reduce((a, b) -> a + "; " + b)
                        .orElse("no message");
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("%s is not signed by a key of %s (gpgv exited %d: %s):"
                        + " refused, no image is rebuilt from it").formatted(from, keyring, process.exitValue(), said));
            }
            return Files.readString(out, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_COMMAND_FAILED, "cannot check %s with gpgv: %s".formatted(from, e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted checking " + from, e);
        } finally {
            for (Path file : new Path[] {in, out}) {
                try {
                    if (file != null) {
                        Files.deleteIfExists(file);
                    }
                } catch (IOException e) {
                    // a temporary file in the pipeline's own directory; the next check makes new ones
                }
            }
        }
    }
}
