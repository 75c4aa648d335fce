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
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who reaches which job through the gateway, with the real OpenSSH client and no VM (a TCP service on loopback
 * stands for each VM's sshd and speaks first, as sshd does): a job's own user reaches that job with their key and
 * is recorded by their name, not by what they typed; another user's key is refused there; an admin reaches every
 * job; a key no running job grants does not log in at all.
 */
@Timeout(60)
class SshGrantsTest {
    private static final String TOKEN = "host-token-0123456789";

    @TempDir
    Path dir;

    @Test
    void aJobsOwnUserReachesItAloneAndAdminsReachEveryJob() throws Exception {
        Path admin = OpenSsh.keyPair(dir, "admin");
        Path alice = OpenSsh.keyPair(dir, "alice");
        Path bob = OpenSsh.keyPair(dir, "bob");
        Path stranger = OpenSsh.keyPair(dir, "stranger");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(admin)));
        Map<String, SshDirectory.Target> jobs = Map.of(
                "j-alice", new SshDirectory.Target("j-alice", "vm-alice", "h1", "unused",
                        List.of(SshDirectory.Grant.of("alice", Files.readString(OpenSsh.publicKey(alice))))),
                "j-bob", new SshDirectory.Target("j-bob", "vm-bob", "h1", "unused",
                        List.of(SshDirectory.Grant.of("bob", Files.readString(OpenSsh.publicKey(bob))))));
        List<String> recorded = new CopyOnWriteArrayList<>();
        SshDirectory directory = new SshDirectory() {
            @Override
            public Optional<String> hostOfToken(String token) {
                return token.equals(TOKEN) ? Optional.of("h1") : Optional.empty();
            }

            @Override
            public Optional<Target> runningJob(String job) {
                return Optional.ofNullable(jobs.get(job));
            }

            @Override
            public boolean anyJobGrants(String key) {
                return jobs.values().stream().anyMatch(t -> t.grantOf(key).isPresent());
            }

            @Override
            public void sessionStarted(Session session) {
                recorded.add(session.user() + "@" + session.job());
            }

            @Override
            public void sessionEnded(String sessionId, long endedAt, String reason) {}
        };
        try (ServerSocket vm = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
             SshGateway gateway = SshGateway.start(new SshGateway.Config("127.0.0.1", 0, dir.resolve("host-key"), authorized),
                     directory, Clock.systemUTC())) {
            Thread.ofVirtual().start(() -> {
                while (!vm.isClosed()) {
                    try {
                        Socket peer = vm.accept();
                        Thread.ofVirtual().start(() -> banner(peer));
                    } catch (java.io.IOException e) {
                        return; // closed
                    }
                }
            });
            HttpServer api = SshRelayTest.gatewayInfo(gateway);
            URI server = URI.create("http://127.0.0.1:" + api.getAddress().getPort());
            GuestSshEndpoint endpoint = new GuestSshEndpoint(null, "127.0.0.1", vm.getLocalPort(), "ssh-ed25519 AAAA");
            SshRelay relay = new SshRelay(new AgentClient(server, TOKEN), server, TOKEN,
                    vmId -> vmId.startsWith("vm-") ? Optional.of(endpoint) : Optional.empty());
            try {
                relay.start();
                await().atMost(Duration.ofSeconds(30)).until(relay::connected);
                Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + gateway.port() + " " + gateway.hostKey() + "\n");

                assertThat(reaches(alice, "somebody", gateway.port(), "j-alice")).isTrue();
                assertThat(reaches(admin, "admin", gateway.port(), "j-alice")).isTrue();
                assertThat(reaches(admin, "admin", gateway.port(), "j-bob")).isTrue();
                assertThat(reaches(bob, "bob", gateway.port(), "j-bob")).isTrue();

                OpenSsh.Result other = OpenSsh.run(ssh(alice, "alice", gateway.port(), "j-bob"));
                assertThat(other.code()).isEqualTo(255);
                assertThat(other.output()).contains("open failed: administratively prohibited");
                OpenSsh.Result unknown = OpenSsh.run(ssh(alice, "alice", gateway.port(), "j-none"));
                assertThat(unknown.output()).contains("open failed: connect failed");
                OpenSsh.Result refused = OpenSsh.run(ssh(stranger, "alice", gateway.port(), "j-alice"));
                assertThat(refused.code()).isEqualTo(255);
                assertThat(refused.output()).contains("Permission denied");

                assertThat(recorded).as("a job's user as whose the key is; an admin as typed")
                        .containsExactly("alice@j-alice", "admin@j-alice", "admin@j-bob", "bob@j-bob");
            } finally {
                relay.close();
                api.stop(0);
            }
        }
    }

    /** Whether the user's {@code ssh -W JOB:22} gets the stand-in sshd's banner through the gateway and the relay. */
    private boolean reaches(Path key, String user, int port, String job) throws Exception {
        Process ssh = new ProcessBuilder(ssh(key, user, port, job)).redirectError(dir.resolve("ssh.err").toFile()).start();
        try {
            byte[] banner = ssh.getInputStream().readNBytes(18);
            return new String(banner, StandardCharsets.US_ASCII).equals("SSH-2.0-stand-in\r\n");
        } finally {
            ssh.destroy();
            ssh.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private List<String> ssh(Path key, String user, int port, String job) {
        return List.of("ssh", "-i", key.toString(), "-o", "IdentitiesOnly=yes",
                "-o", "UserKnownHostsFile=" + dir.resolve("known_hosts"), "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-p", String.valueOf(port), "-W", job + ":22", user + "@127.0.0.1");
    }

    private static void banner(Socket peer) {
        try (peer; InputStream in = peer.getInputStream(); OutputStream out = peer.getOutputStream()) {
            out.write("SSH-2.0-stand-in\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            in.transferTo(OutputStream.nullOutputStream());
        } catch (java.io.IOException e) {
            // The relay closed it.
        }
    }
}
