package dev.kiln.agent.ssh;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.api.AgentClient;
import dev.kiln.server.ssh.SshDirectory;
import dev.kiln.server.ssh.SshGateway;
import dev.kiln.testkit.OpenSsh;
import dev.kiln.vm.GuestSshEndpoint;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The gateway and the agent's relay without a VM: a TCP service on loopback stands for the VM's sshd (it speaks
 * first, as sshd does, then echoes), and the real OpenSSH client's {@code ssh -W} is the user. Bytes flow both
 * ways from the first one, the session is recorded, and the VM's end ends it.
 */
@Timeout(60)
class SshRelayTest {
    @TempDir
    Path dir;

    @Test
    void relaysBothWaysFromTheFirstByteAndEndsWithTheVm() throws Exception {
        Path user = OpenSsh.keyPair(dir, "user");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(user)));
        Map<String, Long> ended = new ConcurrentHashMap<>();
        SshDirectory directory = new SshDirectory() {
            @Override
            public Optional<String> hostOfToken(String token) {
                return token.equals("host-token-0123456789") ? Optional.of("h1") : Optional.empty();
            }

            @Override
            public Optional<Target> runningJob(String job) {
                return job.equals("j-1") ? Optional.of(new Target("j-1", "vm-1", "h1", "unused")) : Optional.empty();
            }

            @Override
            public void sessionStarted(Session session) {}

            @Override
            public void sessionEnded(String sessionId, long endedAt, String reason) {
                ended.put(sessionId, endedAt);
            }
        };
        try (ServerSocket vm = new ServerSocket(0, 5, java.net.InetAddress.getLoopbackAddress());
             SshGateway gateway = SshGateway.start(new SshGateway.Config("127.0.0.1", 0, dir.resolve("host-key"), authorized),
                     directory, Clock.systemUTC())) {
            Thread.ofVirtual().start(() -> {
                try (Socket peer = vm.accept(); InputStream in = peer.getInputStream(); OutputStream out = peer.getOutputStream()) {
                    out.write("SSH-2.0-stand-in\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    in.transferTo(out);
                } catch (java.io.IOException e) {
                    // The relay closed it.
                }
            });
            HttpServer api = gatewayInfo(gateway);
            URI server = URI.create("http://127.0.0.1:" + api.getAddress().getPort());
            GuestSshEndpoint endpoint = new GuestSshEndpoint(null, "127.0.0.1", vm.getLocalPort(), "ssh-ed25519 AAAA");
            java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
            SshRelay relay = new SshRelay(new AgentClient(server, "host-token-0123456789"), server, "host-token-0123456789",
                    vmId -> vmId.equals("vm-1") && running.get() ? Optional.of(endpoint) : Optional.empty());
            try {
                relay.start();
                await().atMost(Duration.ofSeconds(30)).until(relay::connected);
                Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + gateway.port() + " " + gateway.hostKey() + "\n");
                Process ssh = new ProcessBuilder("ssh", "-i", user.toString(), "-o", "IdentitiesOnly=yes",
                        "-o", "UserKnownHostsFile=" + dir.resolve("known_hosts"), "-o", "StrictHostKeyChecking=yes",
                        "-o", "BatchMode=yes", "-p", String.valueOf(gateway.port()), "-W", "j-1:22", "admin@127.0.0.1")
                        .redirectError(dir.resolve("ssh.err").toFile()).start();
                byte[] banner = ssh.getInputStream().readNBytes(18);
                assertThat(new String(banner, StandardCharsets.US_ASCII)).as(Files.readString(dir.resolve("ssh.err")))
                        .isEqualTo("SSH-2.0-stand-in\r\n");
                ssh.getOutputStream().write("echo me\n".getBytes(StandardCharsets.US_ASCII));
                ssh.getOutputStream().flush();
                assertThat(new String(ssh.getInputStream().readNBytes(8), StandardCharsets.US_ASCII)).isEqualTo("echo me\n");

                running.set(false);
                relay.vmEnded("vm-1");
                assertThat(ssh.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).as("the VM's end ends the session").isTrue();
                await().atMost(Duration.ofSeconds(10)).until(() -> ended.size() == 1);
            } finally {
                relay.close();
                api.stop(0);
            }
        }
    }

    /** A stand-in server API that tells the agent where the gateway is, as the server's does. */
    static HttpServer gatewayInfo(SshGateway gateway) throws java.io.IOException {
        HttpServer api = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        api.createContext("/api/v1/agent/ssh", exchange -> {
            byte[] body = ("{\"port\": " + gateway.port() + ", \"hostKey\": \"" + gateway.hostKey() + "\"}")
                    .getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        api.start();
        return api;
    }
}
