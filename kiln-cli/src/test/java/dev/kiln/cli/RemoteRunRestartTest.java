package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.api.LogChunk;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.api.VmReport;
import dev.kiln.api.VmState;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Remote `kiln run` across a restart of its server: the output streamed before, during and after arrives
 * once each, and the run ends with the job's exit code. The host is played through the agent API (its VM's
 * output sent at chosen moments), the server is a real one on SQLite, stopped and started on the same port.
 */
@Timeout(120)
class RemoteRunRestartTest {
    static final String ADMIN = "remote-run-admin-token-0123456789";
    static final int LINES = 100;

    @TempDir
    Path dir;

    @Test
    void aRemoteRunSurvivesAServerRestartAndStreamsTheRestOfTheLogOnce() throws Exception {
        int port = KilnProcess.freePort();
        ServerConfig config = ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", port);
        URI uri = URI.create("http://127.0.0.1:" + port);
        KilnServer server = KilnServer.start(config, InstantSource.system());
        KilnClient client = new KilnClient(uri, ADMIN);
        String hostToken = AgentClient.enrol(uri, client.addHost("h1").enrolmentToken()).hostToken();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        PrintWriter errors = new PrintWriter(err, true);
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            Host before = new Host(new AgentClient(uri, hostToken));
            before.report(null, List.of());
            Future<Integer> run = threads.submit(() -> RemoteRun.run(client, JobRequest.command(List.of("build"), 1, 256, 1),
                    false, new PrintWriter(out, true), errors, new Reconnect(InstantSource.system(),
                            duration -> Thread.sleep(duration), Duration.ofSeconds(60), errors)));

            VmLaunch vm = await().atMost(Duration.ofSeconds(20)).until(() -> before.report(null, List.of()).vms(),
                    vms -> !vms.isEmpty()).getFirst();
            before.report(null, List.of(new VmReport(vm.id(), VmState.RUNNING, null, null, null)));
            before.send(vm, 0, LINES / 2);
            await().atMost(Duration.ofSeconds(20)).until(() -> out.toString().contains(line(LINES / 2 - 1)));

            server.close();
            await().atMost(Duration.ofSeconds(20)).until(() -> err.toString().contains("reconnecting for up to 60 s"));
            server = KilnServer.start(config, InstantSource.system());
            Host after = new Host(new AgentClient(uri, hostToken));
            after.send(vm, LINES / 2, LINES);
            after.report(null, List.of(new VmReport(vm.id(), VmState.EXITED, 0, null, null)));

            assertThat(run.get()).isZero();
            assertThat(out.toString()).isEqualTo(IntStream.range(0, LINES).mapToObj(RemoteRunRestartTest::line)
                    .collect(Collectors.joining()));
            assertThat(err.toString()).contains("reconnected to " + uri);
        } finally {
            server.close();
        }
    }

    static String line(int n) {
        return "line " + n + " of the build\n";
    }

    /** The agent's side, played by the test. */
    static final class Host {
        private final AgentClient agent;
        private long sequence;

        Host(AgentClient agent) {
            this.agent = agent;
        }

        SyncAnswer report(String desiredVersion, List<VmReport> vms) {
            // A boot id per Host: the restarted server takes the report as from a host it knows.
            return agent.sync(new AgentReport("boot-" + System.identityHashCode(this), ++sequence, "test", "x86_64", 4,
                    8192, 10, desiredVersion, vms), Duration.ZERO);
        }

        /** Lines [from, to), one chunk each, numbered as the agent numbers a VM's chunks. */
        void send(VmLaunch vm, int from, int to) {
            for (int n = from; n < to; n++) {
                agent.uploadLogs(List.of(new LogChunk(vm.id(), n, "stdout", line(n))));
            }
        }
    }
}
