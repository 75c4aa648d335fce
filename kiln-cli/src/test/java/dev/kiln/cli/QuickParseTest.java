package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** `kiln run`'s quick parser reads every line it accepts as picocli does, and leaves the rest to picocli. */
class QuickParseTest {
    static List<List<String>> accepted() {
        return List.of(
                List.of("--", "true"),
                List.of("--cpus", "2", "--memory=768m", "--disk", "20g", "--timeout", "1h30m", "--image", "runner",
                        "-e", "A=1", "--env", "B=x=y", "--env=C=", "--no-network", "-v", "--state-dir", "/tmp/s",
                        "--netns", "ns", "--vm-network", "10.0.0.0/24", "--accel", "TCG", "--server", "http://x",
                        "--token", "t", "--", "sh", "-c", "echo $A"),
                List.of("--image=", "--verbose", "--accel=kvm", "--", "x"),
                List.of("--", "echo", "--cpus", "3", "@file", "--", "-v"));
    }

    static List<List<String>> declined() {
        return List.of(
                List.of("--help"),
                List.of("-V"),
                List.of("true"),
                List.of("--"),
                List.of("-vV", "--", "x"),
                List.of("--cpus", "1", "--cpus", "2", "--", "x"),
                List.of("--cpus", "two", "--", "x"),
                List.of("--memory", "2x", "--", "x"),
                List.of("--memory", "-1", "--", "x"),
                List.of("--accel", "warp", "--", "x"),
                List.of("--image", "@file", "--", "x"),
                List.of("--image=@file", "--", "x"),
                List.of("@args", "--", "x"),
                List.of("--verbose=true", "--", "x"),
                List.of("-e=A=1", "--", "x"),
                List.of("--image", "--", "x"),
                List.of("--unknown", "--", "x"),
                List.of("--cpus"));
    }

    @ParameterizedTest
    @MethodSource("accepted")
    void readsTheUsualLinesAsPicocliDoes(List<String> args) {
        RunCommand quick = new RunCommand();
        assertThat(quick.parseQuickly(args)).isTrue();

        picocli.CommandLine picocli = Kiln.subcommand("run").setCaseInsensitiveEnumValuesAllowed(true);
        picocli.parseArgs(args.toArray(String[]::new));
        RunCommand read = picocli.getCommand();

        assertThat(quick.parsed()).isEqualTo(read.parsed());
    }

    @ParameterizedTest
    @MethodSource("declined")
    void leavesEverythingElseToPicocli(List<String> args) {
        assertThat(new RunCommand().parseQuickly(args)).isFalse();
    }
}
