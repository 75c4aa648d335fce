package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.KilnClient;
import dev.kiln.api.SyncAnswer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A fleet's worth of kept-alive connections on one server, through the real clients: every agent
 * holds a sync and keeps its reporter's connection idle, and the admin client calls away meanwhile.
 * With the JDK HttpServer's defaults the server closes connections that its clients have pooled
 * (more than 200 idle), and the next request on one fails with "header parser received no bytes"
 * or "Broken pipe"; see {@link HttpServers}. Nothing here retries.
 */
class ConnectionsTest {
    static final String ADMIN = "admin-token-for-tests-0123456789";
    static final int HOSTS = 150;
    static final int ROUNDS = 20;

    @TempDir
    Path dir;

    @Test
    @Timeout(120)
    void aFleetOfHeldSyncsAndIdleConnectionsIsAnsweredWithoutOneLostConnection() throws Exception {
        ServerConfig config = ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0);
        try (KilnServer server = KilnServer.start(config, InstantSource.system());
                ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            KilnClient admin = new KilnClient(server.uri(), ADMIN);
            List<AgentClient> agents = new ArrayList<>();
            for (int h = 0; h < HOSTS; h++) {
                String token = AgentClient.enrol(server.uri(), admin.addHost("h" + h).enrolmentToken()).hostToken();
                agents.add(new AgentClient(server.uri(), token));
            }
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Future<?>> work = new ArrayList<>();
            for (AgentClient agent : agents) {
                work.add(threads.submit(() -> agentLike(agent, failures)));
            }
            for (int c = 0; c < 4; c++) {
                work.add(threads.submit(() -> {
                    for (int i = 0; i < 100; i++) {
                        call(failures, () -> admin.hosts());
                    }
                }));
            }
            for (Future<?> future : work) {
                future.get();
            }
            assertThat(failures).as("calls that failed").isEmpty();
            assertThat(admin.hosts()).hasSize(HOSTS).allSatisfy(h -> assertThat(h.state()).isEqualTo("ACTIVE"));
        }
    }

    /**
     * Like an agent: a sync held while the reporter reports (so the agent keeps two connections, one
     * then idle), then held syncs back to back, each sent as soon as the previous one is answered.
     */
    private static void agentLike(AgentClient agent, ConcurrentLinkedQueue<String> failures) {
        SyncAnswer first = call(failures, () -> agent.sync(report(1, null), Duration.ZERO));
        if (first == null) {
            return;
        }
        CompletableFuture<SyncAnswer> held = CompletableFuture.supplyAsync(
                () -> call(failures, () -> agent.sync(report(2, first.desiredVersion()), Duration.ofMillis(1500))));
        call(failures, () -> agent.sync(report(3, first.desiredVersion()), Duration.ZERO));
        held.join();
        for (int round = 0; round < ROUNDS; round++) {
            long sequence = 4 + round;
            call(failures, () -> agent.sync(report(sequence, first.desiredVersion()), Duration.ofMillis(100)));
        }
    }

    private static AgentReport report(long sequence, String desiredVersion) {
        return new AgentReport("boot", sequence, "test", "x86_64", 4, 8192, 10, desiredVersion, List.of());
    }

    private static <T> T call(ConcurrentLinkedQueue<String> failures, java.util.function.Supplier<T> call) {
        try {
            return call.get();
        } catch (RuntimeException e) {
            failures.add(e.getMessage());
            return null;
        }
    }
}
