package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testkit.Leftovers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** `kill -9` of Kiln mid-run leaves a VM running; the next start removes every trace of it. */
@Tag("vm")
@Timeout(300)
class CrashRecoveryTest {
    @RegisterExtension
    final VmHost host = new VmHost();

    private Process kiln(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-cp", System.getProperty("java.class.path"), "dev.kiln.cli.Kiln"));
        command.add(args[0]);
        command.addAll(List.of("--state-dir", host.state().toString(), "--netns", host.namespace(),
                "--vm-network", "10.202.0.0/24", "--accel", "tcg"));
        command.addAll(List.of(args).subList(1, args.length));
        Path err = Files.createTempFile("kiln-crash-test", ".err");
        err.toFile().deleteOnExit();
        Process process = new ProcessBuilder(command).redirectError(err.toFile()).start();
        errors.put(process, err);
        return process;
    }

    private final java.util.Map<Process, Path> errors = new java.util.concurrent.ConcurrentHashMap<>();

    private String stderr(Process process) throws IOException {
        return Files.readString(errors.get(process));
    }

    @Test
    void ctrlCStopsTheVmAndRemovesEverything() throws Exception {
        Process kiln = kiln("run", "--", "sh", "-c", "echo started; sleep 600");
        var reader = new BufferedReader(new InputStreamReader(kiln.getInputStream(), StandardCharsets.UTF_8));
        assertThat(CompletableFuture.supplyAsync(() -> readLine(reader)).get(150, TimeUnit.SECONDS)).isEqualTo("started");
        List<String> vmIds;
        try (var dirs = Files.list(host.state().resolve("vms"))) {
            vmIds = dirs.map(p -> p.getFileName().toString()).toList();
        }

        new ProcessBuilder("kill", "-INT", Long.toString(kiln.pid())).start().waitFor();

        assertThat(kiln.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(kiln.exitValue()).isEqualTo(ExitCodes.INTERRUPTED);
        // Once a Java stack trace: "Shutdown in progress" at RunCommand.call.
        assertThat(stderr(kiln)).doesNotContain("Exception", "\tat ");
        assertThat(Leftovers.find(host.state(), host.namespace(), vmIds)).as("leftovers after Ctrl-C").isEmpty();
    }

    @Test
    void aGuestKernelPanicEndsKilnRunWith119AndLeavesNothing() throws Exception {
        Process kiln = kiln("run", "--", "sh", "-c", "echo before; sudo -n sh -c 'echo c > /proc/sysrq-trigger'");
        String output = new String(kiln.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(kiln.waitFor(150, TimeUnit.SECONDS)).isTrue();

        // QEMU ends with status 0 after a panic, as after the guest's power-off: only the missing exit
        // marker tells, and `kiln run` says so with its own code, never the command's.
        assertThat(kiln.exitValue()).as(stderr(kiln)).isEqualTo(ExitCodes.GUEST_CRASHED);
        assertThat(output).isEqualTo("before\n");
        assertThat(stderr(kiln)).contains("without reporting an exit code")
                .contains(host.state().resolve("crashes").toString());
        List<String> vmIds;
        try (var dirs = Files.list(host.state().resolve("crashes"))) {
            vmIds = dirs.map(p -> p.getFileName().toString().replace(".console.log", "")).toList();
        }
        assertThat(vmIds).hasSize(1);
        assertThat(Leftovers.find(host.state(), host.namespace(), vmIds)).as("leftovers after a panic").isEmpty();
    }

    private static String readLine(BufferedReader reader) {
        try {
            return reader.readLine();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aKilledKilnLeavesNothingAfterTheNextStart() throws Exception {
        Process first = kiln("run", "--", "sh", "-c", "echo started; sleep 600");
        var reader = new BufferedReader(new InputStreamReader(first.getInputStream(), StandardCharsets.UTF_8));
        String line = CompletableFuture.supplyAsync(() -> {
            try {
                return reader.readLine();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).get(150, TimeUnit.SECONDS);
        assertThat(line).isEqualTo("started");

        List<String> vmIds;
        try (var dirs = Files.list(host.state().resolve("vms"))) {
            vmIds = dirs.map(p -> p.getFileName().toString()).toList();
        }
        assertThat(vmIds).hasSize(1);
        // While it runs, the VM holds every kind of resource: the check below must see them all.
        List<String> running = Leftovers.find(host.state(), host.namespace(), vmIds);
        assertThat(running).anyMatch(l -> l.startsWith("tap ")).anyMatch(l -> l.startsWith("nftables "))
                .anyMatch(l -> l.startsWith("cgroup ")).anyMatch(l -> l.startsWith("process "))
                .anyMatch(l -> l.startsWith("file ") && l.contains("slots"));

        first.destroyForcibly();
        assertThat(first.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(Leftovers.find(host.state(), host.namespace(), vmIds)).as("the killed Kiln left its VM running")
                .anyMatch(l -> l.startsWith("process "));

        Process second = kiln("run", "--", "echo", "second run");
        String output = new String(second.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(second.waitFor(150, TimeUnit.SECONDS)).isTrue();
        assertThat(second.exitValue()).isZero();
        assertThat(output).isEqualTo("second run\n");
        // Kiln's own log line, which a start-up race with the warm-up thread silenced in some runs.
        assertThat(stderr(second)).contains("removed the leftovers of 1 VM(s) of an earlier Kiln process: " + vmIds);

        assertThat(Leftovers.find(host.state(), host.namespace(), vmIds)).as("leftovers after the next start").isEmpty();
    }
}
