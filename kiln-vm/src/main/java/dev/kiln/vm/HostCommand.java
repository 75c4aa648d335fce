package dev.kiln.vm;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a host tool (ip, nft, qemu-img, mkfs) to completion and turns its failure into a message. */
final class HostCommand {
    private static final long TIMEOUT_SECONDS = 60;

    private HostCommand() {}

    record Result(int exitCode, String stdout, String stderr) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs the command, failing with its stderr when it exits non-zero. */
    static String run(List<String> command) {
        return run(command, null);
    }

    static String run(List<String> command, String stdin) {
        Result result = execute(command, stdin);
        if (!result.ok()) {
            throw new KilnException(ErrorCode.HOST_COMMAND_FAILED,
                    "`%s` exited with %d: %s".formatted(String.join(" ", command), result.exitCode(),
                            result.stderr().strip()));
        }
        return result.stdout();
    }

    static Result execute(List<String> command, String stdin) {
        Process process;
        try {
            process = new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING,
                    "cannot run `%s`: %s (run `kiln doctor`)".formatted(command.getFirst(), e.getMessage()), e);
        }
        try (OutputStream in = process.getOutputStream();
             InputStream out = process.getInputStream();
             InputStream err = process.getErrorStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
            in.close();
            // stderr is drained on its own thread so a chatty tool cannot block on a full pipe.
            var errDrain = new StderrDrain(err);
            Thread errReader = Thread.ofVirtual().start(errDrain);
            String stdout = new String(out.readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
                throw new KilnException(ErrorCode.HOST_COMMAND_FAILED,
                        "`%s` did not finish within %d s".formatted(String.join(" ", command), TIMEOUT_SECONDS));
            }
            errReader.join();
            return new Result(process.exitValue(), stdout, errDrain.text.toString());
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_COMMAND_FAILED,
                    "`%s` failed: %s".formatted(String.join(" ", command), e.getMessage()), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted while running " + command.getFirst(), e);
        }
    }

    /**
     * Reads a tool's stderr to its end. A class rather than a lambda: VM set-up runs host commands on
     * several threads at once, and when two link a lambda's call site together the loser's class is
     * spun at run time instead of coming from the launcher's class-data archive.
     */
    private static final class StderrDrain implements Runnable {
        private final InputStream err;
        private final StringBuilder text = new StringBuilder();

        StderrDrain(InputStream err) {
            this.err = err;
        }

        @Override
        public void run() {
            try {
                text.append(new String(err.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                text.append("(stderr unreadable: ").append(e.getMessage()).append(')');
            }
        }
    }

    /** Prefixes a command so that it runs inside a network namespace, when one is configured. */
    static List<String> inNamespace(String namespace, List<String> command) {
        if (namespace == null) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
        wrapped.addAll(command);
        return wrapped;
    }
}
