package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.KilnException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigDriveTest {
    @TempDir
    Path dir;

    private final GuestConfig config = new GuestConfig("vm-1", "kiln-1", "abc",
            new GuestConfig.Network("10.200.0.2", 30, "10.200.0.1", List.of("1.1.1.1")),
            List.of("sh", "-c", "echo \"it's $SECRET\""), Map.of("SECRET", "s3cr'et value"), 600);

    @Test
    void realTarReadsTheDriveAndShellReadsItsSettings() throws Exception {
        Path drive = dir.resolve("config.tar");
        ConfigDrive.write(config, drive);
        Path out = Files.createDirectory(dir.resolve("out"));

        Process tar = new ProcessBuilder("tar", "-xf", drive.toString(), "-C", out.toString()).inheritIO().start();
        assertThat(tar.waitFor()).isZero();
        assertThat(Files.readString(out.resolve("config.json"))).contains("\"vmId\" : \"vm-1\"");

        // The same settings evaluated by a shell, as the guest init does.
        Process shell = new ProcessBuilder("sh", "-c", ". ./kiln.env; set -a; . ./job.env; set +a; "
                + "echo \"$KILN_GUEST_IP $KILN_GATEWAY/$KILN_PREFIX\"; sh ./command.sh").directory(out.toFile()).start();
        String printed = new String(shell.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(shell.waitFor()).isZero();
        assertThat(printed).isEqualTo("10.200.0.2 10.200.0.1/30\nit's s3cr'et value\n");
        assertThat(Files.getPosixFilePermissions(drive)).hasSize(2);
    }

    @Test
    void configJsonIsTheRecordAsAnObjectMapperWritesIt() throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        GuestConfig runner = new GuestConfig("vm-2", "kiln-2", "n", null, List.of(), Map.of(), 60, "{\"jit\": \"é\"}");
        for (GuestConfig each : List.of(config, runner, withSsh())) {
            assertThat(mapper.readTree(ConfigDrive.json(each))).isEqualTo(mapper.readTree(mapper.writeValueAsBytes(each)));
        }
    }

    private GuestConfig withSsh() {
        return new GuestConfig("vm-3", "kiln-3", "n", config.network(), List.of("true"), Map.of(), 60, null,
                new GuestSsh(SshHostKey.generate("vm-3"), List.of("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA user@example")));
    }

    @Test
    void aDebuggingShellPutsTheVmsHostKeyAndTheAllowedKeysOnTheDrive() throws Exception {
        GuestConfig ssh = withSsh();
        Path drive = dir.resolve("config.tar");
        ConfigDrive.write(ssh, drive);
        Path out = Files.createDirectory(dir.resolve("out"));
        assertThat(new ProcessBuilder("tar", "-xf", drive.toString(), "-C", out.toString()).inheritIO().start().waitFor())
                .isZero();

        assertThat(Files.readString(out.resolve("ssh_authorized_keys")))
                .isEqualTo("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA user@example\n");
        assertThat(Files.readString(out.resolve("ssh_host_key"))).isEqualTo(ssh.ssh().hostKey().privateKey());
        assertThat(ssh.toString()).as("the private key is never printed")
                .doesNotContain(ssh.ssh().hostKey().privateKey().lines().skip(1).findFirst().orElseThrow())
                .contains(ssh.ssh().hostKey().publicKey());
    }

    @Test
    void theCommandsWordsAreOnTheDriveForAnInitThatExecsThemItself() throws Exception {
        Path drive = dir.resolve("config.tar");
        ConfigDrive.write(config, drive);
        Path out = Files.createDirectory(dir.resolve("out"));
        assertThat(new ProcessBuilder("tar", "-xf", drive.toString(), "-C", out.toString()).inheritIO().start().waitFor())
                .isZero();

        assertThat(new String(Files.readAllBytes(out.resolve("command.argv")), StandardCharsets.UTF_8))
                .isEqualTo("sh\0-c\0echo \"it's $SECRET\"\0");
        GuestConfig runner = new GuestConfig("vm-2", "kiln-2", "n", null, List.of(), Map.of(), 60, "{}");
        assertThat(runner.commandArgv()).as("a runner starts through its script").isNull();
    }

    @Test
    void aNulByteInTheCommandOrTheEnvironmentIsRefused() {
        assertThatThrownBy(() -> new GuestConfig("vm-1", "kiln-1", "n", null, List.of("echo", "a\0b"), Map.of(), 60))
                .isInstanceOf(KilnException.class).hasMessageContaining("NUL byte");
        assertThatThrownBy(() -> new GuestConfig("vm-1", "kiln-1", "n", null, List.of("true"), Map.of("A", "x\0"), 60))
                .isInstanceOf(KilnException.class).hasMessageContaining("environment variable A has a NUL byte");
    }

    @Test
    void theEnvironmentNeverShowsInToString() {
        assertThat(config.toString()).doesNotContain("s3cr").contains("env=1 variables");
    }

    @Test
    void invalidNamesAreRefused() {
        assertThatThrownBy(() -> new GuestConfig("vm-1", "Bad_Host", "n", null, List.of("true"), Map.of(), 1))
                .isInstanceOf(KilnException.class).hasMessageContaining("'Bad_Host' is not a DNS label");
        assertThatThrownBy(() -> new GuestConfig("vm-1", "ok", "n", null, List.of("true"), Map.of("A-B", "1"), 1))
                .isInstanceOf(KilnException.class).hasMessageContaining("'A-B' is invalid");
    }
}
