package dev.kiln.github;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runner image's {@code kiln-debug} on this machine (the VM test, GitHubDebugRealVmTest, covers a user who
 * connects, says continue and disconnects): it says how to connect, returns at its time limit saying so, refuses a
 * duration it cannot read, and lets a job without a gateway go on at once.
 */
@Timeout(60)
class KilnDebugScriptTest {
    static final Path SCRIPT = StandInRunnerTest.locate("images/runner/kiln-debug");

    @TempDir
    Path state;

    record Ran(int code, String output) {}

    @Test
    void printsHowToConnectAndReturnsAtItsTimeLimitSayingWhy() throws Exception {
        Ran ran = run(Map.of("KILN_SSH_GATEWAY", "gw.example.org:2222", "KILN_JOB_ID", "j-42", "KILN_SSH_USER", "alice"),
                "--timeout", "1s");
        assertThat(ran.code()).isZero();
        assertThat(ran.output()).contains("job j-42 is paused for debugging, for at most 1s")
                .contains("ssh -J alice@gw.example.org:2222 runner@j-42").contains("kiln ssh j-42")
                .contains("the time limit of 1s has passed (0 session(s) still open); the job goes on");
        assertThat(state.resolve("paused")).as("no pause is left behind").doesNotExist();
    }

    @Test
    void aContinueSaidBeforeThePauseDoesNotEndIt() throws Exception {
        assertThat(run(Map.of(), "continue").output()).contains("no step of this job is paused now");
        Ran ran = run(Map.of("KILN_SSH_GATEWAY", "gw:2222", "KILN_JOB_ID", "j-1"), "--timeout=1");
        assertThat(ran.output()).contains("ssh -J YOUR-NAME@gw:2222 runner@j-1").contains("the time limit of 1s has passed");
    }

    @Test
    void refusesWhatItCannotReadAndGoesOnWithoutAGateway() throws Exception {
        for (String bad : List.of("1h30m", "soon", "-5", "")) {
            Ran ran = run(Map.of("KILN_SSH_GATEWAY", "gw:2222", "KILN_JOB_ID", "j-1"), "--timeout", bad);
            assertThat(ran.code()).as(bad).isEqualTo(2);
            assertThat(ran.output()).contains("is not a duration");
        }
        assertThat(run(Map.of(), "--what").code()).isEqualTo(2);
        Ran none = run(Map.of());
        assertThat(none.code()).isZero();
        assertThat(none.output()).contains("this job has no debugging shell").contains("the job goes on");
    }

    private Ran run(Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().keySet().removeIf(name -> name.startsWith("KILN_"));
        builder.environment().putAll(env);
        builder.environment().put("KILN_DEBUG_DIR", state.toString());
        Process process = builder.start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new Ran(process.exitValue(), output);
    }
}
