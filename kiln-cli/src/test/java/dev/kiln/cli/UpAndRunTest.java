package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testkit.Leftovers;
import dev.kiln.testkit.OpenSsh;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** `kiln up` (server and agent in one process, embedded SQLite) and `kiln run` through it, with a real VM. */
@Tag("vm")
@Timeout(300)
class UpAndRunTest {
    static final String ADMIN = "up-test-admin-token-0123456789";

    @TempDir
    Path dir;
    @RegisterExtension
    final VmHost host = new VmHost();
    /**
     * Readers of child processes block: on their own threads, never the common pool, whose single worker on a 2-core
     * machine a long `kiln run` would hold while every later `kiln` call waited behind it.
     */
    private final ExecutorService readers = Executors.newVirtualThreadPerTaskExecutor();
    private final List<Process> started = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** A failed test leaves no `kiln` behind (a `kiln run` waiting on its job would outlive the JVM's tests). */
    @AfterEach
    void stopChildren() {
        started.forEach(Process::destroyForcibly);
        readers.shutdownNow();
    }

    record Ran(int code, String out, String err) {}

    private Ran kiln(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-cp", System.getProperty("java.class.path"), "dev.kiln.cli.Kiln"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).start();
        started.add(process);
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(process.getErrorStream()), readers);
        String out = read(process.getInputStream());
        assertThat(process.waitFor(240, TimeUnit.SECONDS)).as("kiln " + List.of(args) + " finished").isTrue();
        return new Ran(process.exitValue(), out, err.get());
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void kilnRunGoesThroughTheServerThatKilnUpStarted() throws Exception {
        int port = KilnProcess.freePort();
        String server = "http://127.0.0.1:" + port;
        KilnProcess up = KilnProcess.start(List.of("up", "--state-dir", host.state().toString(), "--netns",
                host.namespace(), "--vm-network", "10.204.0.0/24", "--accel", "tcg", "--listen", "127.0.0.1:" + port),
                Map.of("KILN_ADMIN_TOKEN", ADMIN), dir.resolve("up.log"));
        try {
            Ran run = kiln("run", "--server", server, "--token", ADMIN, "--", "sh", "-c",
                    "echo out from $(hostname); echo err >&2; exit 7");
            assertThat(run.code()).as(run.err()).isEqualTo(7);
            assertThat(run.out()).startsWith("out from kiln-");
            assertThat(run.err()).contains("err");

            Ran jobs = kiln("jobs", "--json", "--server", server, "--token", ADMIN);
            assertThat(jobs.code()).isZero();
            assertThat(jobs.out()).contains("\"state\" : \"FAILED\"").contains("\"exitCode\" : 7");

            Ran unauthorised = kiln("jobs", "--server", server, "--token", "not-the-admin-token-000000");
            assertThat(unauthorised.code()).isNotZero();
            assertThat(unauthorised.err()).containsIgnoringCase("token");
        } finally {
            assertThat(up.stop()).as("kiln up stops cleanly on SIGTERM").isIn(0, 143);
        }
        assertThat(Leftovers.find(host.state(), host.namespace(), List.of())).isEmpty();
    }

    /** `kiln up --ssh-listen`: the single-machine default runs the SSH gateway too, and `kiln ssh` reaches a job through it. */
    @Test
    void kilnUpRunsTheSshGatewayThatKilnSshReachesAJobThrough() throws Exception {
        int port = KilnProcess.freePort();
        int sshPort = KilnProcess.freePort();
        String server = "http://127.0.0.1:" + port;
        Path key = OpenSsh.keyPair(dir, "admin");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(key)));
        KilnProcess up = KilnProcess.start(List.of("up", "--state-dir", host.state().toString(), "--netns",
                host.namespace(), "--vm-network", "10.204.0.0/24", "--accel", "tcg", "--listen", "127.0.0.1:" + port,
                "--ssh-listen", "127.0.0.1:" + sshPort, "--ssh-authorized-keys", authorized.toString()),
                Map.of("KILN_ADMIN_TOKEN", ADMIN), dir.resolve("up.log"));
        try {
            // The gateway says "listening on" before the API does.
            Awaitility.await().atMost(java.time.Duration.ofSeconds(60)).until(() ->
                    kiln("jobs", "--server", server, "--token", ADMIN).code() == 0);
            CompletableFuture<Ran> run = CompletableFuture.supplyAsync(() -> {
                try {
                    return kiln("run", "--server", server, "--token", ADMIN, "--", "sh", "-c",
                            "while [ ! -e /tmp/released ]; do sleep 0.2; done; echo released by $(cat /tmp/released)");
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, readers);
            // Until its VM runs with sshd, `kiln ssh` says the job has no debugging shell yet.
            Awaitility.await().atMost(java.time.Duration.ofSeconds(200)).pollInterval(java.time.Duration.ofSeconds(2))
                    .until(() -> {
                        Ran jobs = kiln("jobs", "--json", "--server", server, "--token", ADMIN);
                        String id = new com.fasterxml.jackson.databind.ObjectMapper().readTree(jobs.out()).path(0).path("id").asText();
                        return !id.isEmpty() && kiln("ssh", "--server", server, "--token", ADMIN, "-i", key.toString(),
                                id, "echo kiln-ssh > /tmp/released").code() == 0;
                    });
            Ran ran = run.get(120, TimeUnit.SECONDS);
            assertThat(ran.code()).as(ran.err()).isZero();
            assertThat(ran.out()).isEqualTo("released by kiln-ssh\n");
        } finally {
            assertThat(up.stop()).as("kiln up stops cleanly on SIGTERM").isIn(0, 143);
        }
        assertThat(Files.readString(dir.resolve("up.log"))).contains("SSH gateway for debugging shells on 127.0.0.1:" + sshPort);
        assertThat(Leftovers.find(host.state(), host.namespace(), List.of())).isEmpty();
    }

    /** Its agent enrolled with the first address: before, the second `kiln up` failed (127) for want of a token. */
    @Test
    void kilnUpOnANewAddressTakesItsAgentAlong() throws Exception {
        for (int round = 0; round < 2; round++) {
            int port = KilnProcess.freePort();
            KilnProcess up = KilnProcess.start(List.of("up", "--state-dir", host.state().toString(), "--netns",
                    host.namespace(), "--vm-network", "10.204.0.0/24", "--accel", "tcg", "--listen",
                    "127.0.0.1:" + port), Map.of("KILN_ADMIN_TOKEN", ADMIN), dir.resolve("up-" + round + ".log"));
            try {
                Ran run = kiln("run", "--server", "http://127.0.0.1:" + port, "--token", ADMIN, "--", "echo",
                        "round " + round);
                assertThat(run.code()).as(run.err()).isZero();
                assertThat(run.out()).isEqualTo("round " + round + "\n");
            } finally {
                assertThat(up.stop()).isIn(0, 143);
            }
        }
        assertThat(Files.readString(host.state().resolve("agent").resolve("credentials.json")))
                .contains("\"host\":\"local\"");
    }
}
