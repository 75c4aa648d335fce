package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `kiln install server|agent|up`: writes the role's systemd unit (and the server's user). */
@Command(name = "install", description = "Writes the systemd unit of a role (server, agent or up), and the"
        + " server's system user; then run `systemctl daemon-reload && systemctl enable --now kiln-ROLE`.")
final class InstallCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "ROLE", description = "server, agent or up")
    ServiceUnits.Role role;

    @Option(names = "--root", description = "install into this directory instead of / (as systemd's --root)")
    Path root = Path.of("/");

    @Option(names = "--kiln", description = "the kiln launcher the unit starts (default: this installation's bin/kiln)")
    Path kiln;

    @Option(names = "--server", description = "the server's URL (agent)")
    URI server;

    @Option(names = "--token-file", description = "a file holding the one-time token from `kiln hosts add NAME`"
            + " (agent); copied to /etc/kiln/agent-enrolment-token, 0600, root's")
    Path tokenFile;

    @Option(names = "--listen", description = "HOST:PORT the server serves on (server, up; default: 127.0.0.1:7878)")
    String listen = "127.0.0.1:" + dev.kiln.server.ServerConfig.DEFAULT_PORT;

    @Option(names = "--stop-timeout", converter = Converters.Timeout.class,
            description = "how long systemd lets kiln stop after SIGTERM before killing it (default: 15m)")
    Duration stopTimeout = Duration.ofMinutes(15);

    @Override
    public Integer call() {
        Path launcher = kiln != null ? kiln.toAbsolutePath() : defaultLauncher();
        if (role == ServiceUnits.Role.AGENT && (server == null || tokenFile == null)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "`kiln install agent` needs --server URL and"
                    + " --token-file FILE (the token of `kiln hosts add NAME`; never on a command line)");
        }
        try {
            if (role == ServiceUnits.Role.SERVER) {
                write(root.resolve(ServiceUnits.SYSUSERS), ServiceUnits.sysusers(), "rw-r--r--");
                Files.createDirectories(root.resolve("etc"));
                run("systemd-sysusers", "--root", root.toAbsolutePath().toString(),
                        root.resolve(ServiceUnits.SYSUSERS).toAbsolutePath().toString());
            }
            if (role == ServiceUnits.Role.AGENT) {
                Path token = root.resolve(ServiceUnits.ENROLMENT_TOKEN);
                Files.createDirectories(token.getParent(), PosixFilePermissions.asFileAttribute(
                        PosixFilePermissions.fromString("rwx------")));
                write(token, Files.readString(tokenFile).strip() + "\n", "rw-------");
            }
            Path unit = root.resolve(ServiceUnits.UNIT_DIR).resolve(role.unitName());
            write(unit, ServiceUnits.unit(role, launcher, server, listen, stopTimeout), "rw-r--r--");
            System.out.println("kiln: wrote " + unit + "; start it with: systemctl daemon-reload && systemctl enable"
                    + " --now " + role.unitName());
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot install " + role.unitName()
                    + " under " + root + ": " + e.getMessage(), e);
        }
        return ExitCodes.OK;
    }

    private static Path defaultLauncher() {
        String home = System.getProperty("kiln.home");
        if (home == null) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "not started by bin/kiln: say which launcher the"
                    + " unit starts with --kiln PATH");
        }
        return Path.of(home, "bin", "kiln").toAbsolutePath();
    }

    /** Written to a temporary file with its mode, then moved: never a moment with the secret world-readable. */
    private static void write(Path file, String text, String mode) throws IOException {
        Files.createDirectories(file.getParent());
        Path partial = Files.createTempFile(file.getParent(), file.getFileName() + ".", ".partial",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
        try {
            Files.writeString(partial, text);
            Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }

    static void run(String... command) throws IOException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            String output = new String(process.getInputStream().readAllBytes()).strip();
            if (process.waitFor() != 0) {
                throw new IOException(String.join(" ", command) + " exited " + process.exitValue() + ": " + output);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + command[0], e);
        }
    }
}
