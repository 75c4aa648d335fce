package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/kiln's class-data archive: made from a warm-up after each build, then once from what a `kiln run`
 * that went all the way loaded, so that a VM's path (its lambdas, virtual threads, the JDK's classes)
 * comes from the archive. The launcher as users run it, on the distribution already built.
 */
@Tag("vm")
@Timeout(300)
class LauncherArchiveTest {
    private static final Path HOME = home();

    @TempDir
    Path cds;
    @TempDir
    Path scratch;
    @RegisterExtension
    final VmHost host = new VmHost();

    @BeforeEach
    void needsTheDistribution() {
        Path jar = HOME.resolve("kiln-cli/target/kiln-cli-0.1.0-SNAPSHOT.jar");
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError("needs the distribution " + jar + ": run `bin/kiln --version` (bin/test does)");
        }
    }

    @Test
    void theArchiveLearnsAFinishedRunOnceAndThenHoldsAVmsWholePath() throws Exception {
        Outcome version = launcher(Map.of(), "--version");
        assertThat(version.code()).as(version.err()).isZero();
        assertThat(cds.resolve("kiln.jsa")).as("the archive made from the warm-up").isNotEmptyFile();
        assertThat(cds.resolve("trained")).doesNotExist();

        Outcome unknown = run(Map.of(), "--image", "no-such-image");
        assertThat(unknown.code()).as(unknown.err()).isEqualTo(ExitCodes.IMAGE);
        assertThat(runLists()).as("a run on the warm-up's archive records what it loads").hasSize(1);
        Outcome afterFailure = launcher(Map.of(), "--version");
        assertThat(afterFailure.err()).doesNotContain("adding what the last run loaded");
        assertThat(runLists()).as("a run that failed before its VM is not learnt from").isEmpty();
        assertThat(cds.resolve("trained")).doesNotExist();

        Outcome first = run(Map.of());
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.err()).as("SLF4J finds the provider bin/kiln names, and says nothing").doesNotContain("SLF4J");
        assertThat(runLists()).hasSize(1);
        Outcome learning = launcher(Map.of(), "--version");
        assertThat(learning.code()).as(learning.err()).isZero();
        assertThat(learning.err()).contains("adding what the last run loaded to the class-data archive");
        assertThat(cds.resolve("trained")).exists();
        assertThat(runLists()).isEmpty();

        Path classLog = scratch.resolve("classes.log");
        Outcome traced = run(Map.of("JDK_JAVA_OPTIONS", "-Xlog:class+load:file=" + classLog));
        assertThat(traced.code()).as(traced.err()).isZero();
        assertThat(runLists()).as("an archive that has learnt records no more").isEmpty();
        List<String> kilnClasses = Files.readAllLines(classLog).stream().filter(line -> line.contains(" dev.kiln.")).toList();
        assertThat(kilnClasses).as("Kiln's classes on a VM's whole path").anyMatch(line -> line.contains("VmResult$Timings"))
                .anyMatch(line -> line.contains("dev.kiln.vm.VmResources$$Lambda"));
        assertThat(kilnClasses).as("every one of them mapped from the archive, none parsed from a jar")
                .allMatch(line -> line.contains("source: shared objects file"));
    }

    private List<Path> runLists() throws IOException {
        try (Stream<Path> files = Files.list(cds)) {
            return files.filter(f -> f.getFileName().toString().matches("run-\\d+\\.classlist")).toList();
        }
    }

    private Outcome run(Map<String, String> env, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("run", "--state-dir", host.state().toString(),
                "--netns", host.namespace(), "--vm-network", "10.204.0.0/24", "--accel", "tcg"));
        args.addAll(List.of(flags));
        args.addAll(List.of("--", "true"));
        return launcher(env, args.toArray(String[]::new));
    }

    record Outcome(int code, String err) {}

    private Outcome launcher(Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(HOME.resolve("bin/kiln").toString()));
        command.addAll(List.of(args));
        Path err = scratch.resolve("stderr");
        ProcessBuilder builder = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .redirectError(err.toFile());
        builder.environment().putAll(env);
        builder.environment().put("KILN_CDS_DIR", cds.toString());
        builder.environment().put("KILN_NO_REBUILD", "1");
        Process process = builder.start();
        if (!process.waitFor(120, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("bin/kiln " + args[0] + " did not finish within 120 s: "
                    + Files.readString(err, StandardCharsets.UTF_8));
        }
        return new Outcome(process.exitValue(), Files.readString(err, StandardCharsets.UTF_8));
    }

    private static Path home() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("bin/kiln"))) {
                return dir;
            }
        }
        throw new IllegalStateException("bin/kiln not found above " + Path.of("").toAbsolutePath());
    }
}
