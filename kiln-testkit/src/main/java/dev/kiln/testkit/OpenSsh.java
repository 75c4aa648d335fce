package dev.kiln.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The real OpenSSH client's programs (openssh-client, which bin/setup installs), for tests of SSH access. */
public final class OpenSsh {
    private OpenSsh() {}

    /** A program's exit code and its output and errors together, stripped. */
    public record Result(int code, String output) {}

    /** Makes an Ed25519 key pair without a passphrase: {@code dir/name} and {@code dir/name.pub}. */
    public static Path keyPair(Path dir, String name) {
        Path key = dir.resolve(name);
        Result made = run(List.of("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key.toString()));
        if (made.code() != 0) {
            throw new IllegalStateException("ssh-keygen failed (is openssh-client installed? bin/setup installs it): "
                    + made.output());
        }
        return key;
    }

    /** The public half of a key pair {@link #keyPair} made. */
    public static Path publicKey(Path key) {
        return key.resolveSibling(key.getFileName() + ".pub");
    }

    /** Runs a program with no input, up to 2 minutes, and answers its exit code and output. */
    public static Result run(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            process.getOutputStream().close();
            String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!process.waitFor(2, TimeUnit.MINUTES)) {
                process.destroyForcibly().waitFor();
                throw new IllegalStateException(String.join(" ", command) + " ran for more than 2 minutes: " + out);
            }
            return new Result(process.exitValue(), out);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + command.getFirst(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted running " + command.getFirst(), e);
        }
    }
}
