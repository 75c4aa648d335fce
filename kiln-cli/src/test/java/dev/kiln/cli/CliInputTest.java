package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Bad input to `kiln run` gets a specific message and a distinct exit code, and touches nothing. */
class CliInputTest {
    @TempDir
    Path state;

    record Outcome(int code, String out, String err) {}

    private Outcome kiln(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Kiln.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Outcome(code, out.toString(), err.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "--memory|2x|'2x' is not a size",
            "--memory|0m|'0m' is out of range",
            "--disk|1500m|not a whole number of GiB",
            "--timeout|soon|'soon' is not a duration",
            "--timeout|0s|'0s' is zero",
            "--cpus|two|'two' is not an int",
            "--accel|warp|warp"})
    void invalidFlagsAreUsageErrors(String flag, String value, String message) {
        Outcome outcome = kiln("run", "--state-dir", state.toString(), flag, value, "--", "true");

        assertThat(outcome.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(outcome.err()).contains(message);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "--ssh-org-keys|/etc/kiln/org-keys|--ssh-org-keys needs --ssh-listen HOST:PORT",
            "--ssh-authorized-keys|/etc/kiln/ssh-users|--ssh-authorized-keys needs --ssh-listen HOST:PORT",
            "--ssh-listen|127.0.0.1:2222|--ssh-listen needs --ssh-authorized-keys FILE"})
    void kilnUpRefusesAnIncompleteSshGatewayBeforeItMakesAnything(String flag, String value, String message) {
        Outcome outcome = kiln("up", "--state-dir", state.resolve("up").toString(), flag, value);

        assertThat(outcome.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(outcome.err()).contains(message);
        assertThat(state.resolve("up")).doesNotExist();
    }

    @Test
    void aMissingCommandIsAUsageError() {
        Outcome outcome = kiln("run", "--state-dir", state.toString());

        assertThat(outcome.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(outcome.err()).contains("CMD");
    }

    @Test
    void anUnknownImageNamesWhatExistsAndHowToBuildIt() throws Exception {
        Outcome outcome = kiln("run", "--state-dir", state.toString(), "--image", "nope", "--", "true");

        assertThat(outcome.code()).isEqualTo(ExitCodes.IMAGE);
        assertThat(outcome.err()).contains("kiln: no image 'nope'").contains("no images yet").contains("kiln image build");
        // Validation happens before the host is touched: no VM directory, no slots.
        try (var files = Files.list(state)) {
            assertThat(files.map(p -> p.getFileName().toString()).toList()).doesNotContain("vms", "slots");
        }
    }

    @Test
    void zeroCpusAndBadEnvironmentAreRefusedWithTheReason() throws Exception {
        Path images = Path.of(System.getProperty("kiln.test.images", "/var/lib/kiln/images"));
        if (!Files.exists(images.resolve("names/default"))) {
            throw new AssertionError("needs the default image in " + images + ": run `bin/kiln image build default`");
        }
        Files.createSymbolicLink(state.resolve("images"), images);

        Outcome cpus = kiln("run", "--state-dir", state.toString(), "--cpus", "0", "--", "true");
        assertThat(cpus.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(cpus.err()).contains("--cpus must be at least 1, got 0");

        Outcome env = kiln("run", "--state-dir", state.toString(), "--env", "NOVALUE", "--", "true");
        assertThat(env.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(env.err()).contains("--env 'NOVALUE' is not KEY=VALUE");

        Outcome memory = kiln("run", "--state-dir", state.toString(), "--memory", "4096g", "--", "true");
        assertThat(memory.code()).isEqualTo(ExitCodes.CAPACITY);
        assertThat(memory.err()).contains("4194304 MiB of memory").contains("this host has");
    }
}
