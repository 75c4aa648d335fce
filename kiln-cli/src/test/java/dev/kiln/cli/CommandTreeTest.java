package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Only the subcommand named is built; help, mistakes and the archive's warm-up still see all of them. */
class CommandTreeTest {
    record Outcome(int code, String out, String err) {}

    private static Outcome kiln(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Kiln.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Outcome(code, out.toString(), err.toString());
    }

    @Test
    void helpListsEverySubcommandAndHelpOfOneWorks() {
        Outcome help = kiln("--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("run", "image", "doctor", "server", "agent", "up", "hosts", "jobs", "job",
                "vms", "logs", "cancel", "github", "help").doesNotContain("warmup");

        Outcome runHelp = kiln("help", "run");
        assertThat(runHelp.code()).isZero();
        assertThat(runHelp.out()).contains("Usage: kiln run", "--memory", "--timeout", "CMD");
    }

    @Test
    void everyCommandAnswersHelpAndVersion() {
        for (String[] command : new String[][] {{"run"}, {"doctor"}, {"image", "rm"}, {"hosts", "add"}, {"jobs"}}) {
            String[] withHelp = java.util.Arrays.copyOf(command, command.length + 1);
            withHelp[command.length] = "--help";
            Outcome help = kiln(withHelp);
            assertThat(help.code()).as(String.join(" ", withHelp)).isZero();
            assertThat(help.out()).contains("Usage: kiln " + String.join(" ", command), "--help");

            withHelp[command.length] = "-V";
            Outcome version = kiln(withHelp);
            assertThat(version.code()).isZero();
            assertThat(version.out()).contains(Kiln.VERSION);
        }
        assertThat(kiln("run", "--help").out()).contains("--state-dir", "--server", "--cpus", "--env");
    }

    /** picocli reads annotations through proxy classes the JDK makes at run time: `kiln run` waits for none. */
    @Test
    void runsModelIsCodeNotAnnotations() {
        for (Class<?> type : java.util.List.of(RunCommand.class, HostOptions.class, ClientOptions.class)) {
            assertThat(type.getAnnotations()).as(type.getSimpleName()).isEmpty();
            for (var field : type.getDeclaredFields()) {
                assertThat(field.getAnnotations()).as(field.toString()).isEmpty();
            }
        }
    }

    @Test
    void anUnknownSubcommandIsAUsageErrorThatNamesIt() {
        Outcome outcome = kiln("rnu", "--", "true");
        assertThat(outcome.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(outcome.err()).contains("rnu");
    }

    /** Before, picocli took `kiln deploy --help` for the root's help, printed it and exited 0. */
    @Test
    void helpAfterAnUnknownCommandIsRefused() {
        Outcome outcome = kiln("deploy", "--help");
        assertThat(outcome.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(outcome.err()).contains("unknown command 'deploy'");
        assertThat(outcome.out()).isEmpty();
        assertThat(kiln("rnu", "--help").err()).contains("did you mean 'run'?");
    }

    @Test
    void subcommandsOfSubcommandsAreReachable() {
        Outcome outcome = kiln("image", "rm");
        assertThat(outcome.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(outcome.err()).contains("Missing required parameter: 'IMAGE'", "Usage: kiln image rm");
    }

    @Test
    void theWarmUpRunsWithoutTouchingTheHostAndLeavesNothing() throws IOException {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        long before;
        try (Stream<Path> files = Files.list(tmp)) {
            before = files.filter(p -> p.getFileName().toString().startsWith("kiln-warmup-")).count();
        }
        assertThat(kiln("warmup").code()).isZero();
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files.filter(p -> p.getFileName().toString().startsWith("kiln-warmup-")).count()).isEqualTo(before);
        }
    }
}
