package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `kiln install` and `kiln uninstall` into a temporary root, the units checked by systemd's own verifier. */
class ServiceInstallTest {
    @TempDir
    Path root;

    private int kiln(String... args) {
        StringWriter err = new StringWriter();
        int code = Kiln.execute(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true), args);
        assertThat(code).as("kiln %s: %s", String.join(" ", args), err).isZero();
        return code;
    }

    /** A real launcher for ExecStart: systemd-analyze refuses a unit whose program does not exist. */
    private Path launcher() throws IOException {
        Path kiln = root.resolve("opt/kiln/bin/kiln");
        Files.createDirectories(kiln.getParent());
        Files.writeString(kiln, "#!/bin/sh\n");
        Files.setPosixFilePermissions(kiln, PosixFilePermissions.fromString("rwxr-xr-x"));
        return kiln;
    }

    @Test
    void everyRoleIsInstalledAsAUnitSystemdAcceptsAndUninstalledWithItsUser() throws Exception {
        Files.createDirectories(root.resolve("etc"));
        Path kiln = launcher();
        Path token = root.resolve("token-given");
        Files.writeString(token, "enrol-secret-123\n");

        kiln("install", "server", "--root", root.toString(), "--kiln", kiln.toString());
        kiln("install", "agent", "--root", root.toString(), "--kiln", kiln.toString(),
                "--server", "http://10.0.0.1:7878", "--token-file", token.toString(), "--stop-timeout", "20m");
        kiln("install", "up", "--root", root.toString(), "--kiln", kiln.toString());

        Path units = root.resolve("etc/systemd/system");
        String server = Files.readString(units.resolve("kiln-server.service"));
        String agent = Files.readString(units.resolve("kiln-agent.service"));
        String up = Files.readString(units.resolve("kiln-up.service"));
        assertThat(server).contains("User=kiln", "Restart=on-failure", "StandardOutput=journal",
                "ExecStart=" + kiln + " server --data-dir /var/lib/kiln/server");
        // The agent and up need root for VMs: no User= line.
        assertThat(agent).doesNotContain("User=").contains("Restart=on-failure", "KillMode=mixed",
                "TimeoutStopSec=1200s", "--token-file /etc/kiln/agent-enrolment-token", "--drain-timeout 900s")
                .doesNotContain("enrol-secret-123");
        assertThat(up).doesNotContain("User=").contains("ExecStart=" + kiln + " up");

        Path kept = root.resolve("etc/kiln/agent-enrolment-token");
        assertThat(Files.readString(kept)).isEqualTo("enrol-secret-123\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(kept))).isEqualTo("rw-------");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(kept.getParent())))
                .isEqualTo("rwx------");
        assertThat(Files.readAllLines(root.resolve("etc/passwd"))).anyMatch(line -> line.startsWith("kiln:"));

        for (String unit : List.of("kiln-server.service", "kiln-agent.service", "kiln-up.service")) {
            verify(units.resolve(unit));
        }

        kiln("uninstall", "--root", root.toString());
        try (var left = Files.list(units)) {
            assertThat(left).isEmpty();
        }
        assertThat(kept).doesNotExist();
        assertThat(root.resolve("usr/lib/sysusers.d/kiln.conf")).doesNotExist();
        assertThat(Files.readAllLines(root.resolve("etc/passwd"))).noneMatch(line -> line.startsWith("kiln:"));
    }

    @Test
    void anAgentWithoutServerOrTokenFileIsRefusedAndWritesNothing() throws IOException {
        StringWriter err = new StringWriter();
        int code = Kiln.execute(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
                "install", "agent", "--root", root.toString(), "--kiln", launcher().toString());
        assertThat(code).isEqualTo(ExitCodes.of(dev.kiln.core.ErrorCode.INVALID_ARGUMENT));
        assertThat(err.toString()).contains("--server URL", "--token-file FILE");
        assertThat(root.resolve("etc/systemd/system")).doesNotExist();
    }

    /** systemd's own check of a unit file: its syntax, its keys, that ExecStart's program exists. */
    private static void verify(Path unit) throws Exception {
        Path analyze = Path.of("/usr/bin/systemd-analyze");
        assertThat(analyze).as("systemd-analyze is missing: bin/setup installs the systemd package that has it")
                .isExecutable();
        List<String> command = new ArrayList<>(List.of(analyze.toString(), "verify", "--man=no", unit.toString()));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertThat(process.waitFor(2, TimeUnit.MINUTES)).isTrue();
        // Complaints about other units of this host (not ours) are not ours to judge; ours must have none.
        List<String> ours = output.lines().filter(line -> line.contains(unit.getFileName().toString())).toList();
        assertThat(ours).as("systemd-analyze verify %s:%n%s", unit, output).isEmpty();
        assertThat(process.exitValue()).as("systemd-analyze verify %s:%n%s", unit, output).isZero();
    }
}
