package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobRequest;
import dev.kiln.api.JobSsh;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import dev.kiln.api.SshSessionView;
import dev.kiln.core.JobState;
import dev.kiln.server.ssh.SshGateway;
import dev.kiln.testkit.OpenSsh;
import dev.kiln.testkit.TestingClock;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Debugging shells end to end, with real VMs and the real OpenSSH client: the server's SSH gateway lets a user
 * with an authorized key reach a running job through the agent's own connection to the gateway and on to the VM's
 * sshd over its tap (in the host's network lab), with both hops' host keys checked strictly. Commands and their
 * exit codes, scp and -L work; a stranger's key and an unknown job are refused; every session is recorded; the
 * job's end ends a session still open, and nothing is left listening or connected.
 * Boots the default image with sshd (-Dkiln.test.image.default=NAME names another build of it).
 */
@Tag("vm")
@Timeout(300)
class SshGatewayRealVmTest {
    private static final String IMAGE = System.getProperty("kiln.test.image.default", "default");

    @TempDir
    Path dir;
    private TestFleet fleet;
    private RealHosts hosts;

    @AfterEach
    void stop() {
        // The fleet first, then the hosts' labs; each even when the other fails (null ones are skipped).
        try (RealHosts labs = hosts; TestFleet server = fleet) {
            // Closed on the way out.
        }
    }

    @Test
    void aUserReachesARunningJobThroughTheGatewayAndTheAgent() throws Exception {
        RealHosts.requireImage(IMAGE);
        Path admin = keyPair("admin");
        Path stranger = keyPair("stranger");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(admin)));
        fleet = new TestFleet(dir, c -> c, null, new TestingClock(), List.of(),
                new SshGateway.Config("127.0.0.1", 0, dir.resolve("gateway-host-key"), authorized));
        assertThat(Files.getPosixFilePermissions(dir.resolve("gateway-host-key"))).hasSize(2);
        hosts = new RealHosts(fleet);
        RealHosts.Host host = hosts.add("h1", 6, false);

        JobView job = fleet.client.submit(JobRequest.command(List.of("sh", "-c",
                "while [ ! -e /tmp/kiln-done ]; do sleep 0.2; done; echo finished"), 1, 1024, 2).withImage(IMAGE));
        await().atMost(Duration.ofSeconds(240)).until(() -> fleet.client.job(job.id()).state() == JobState.RUNNING
                && fleet.client.jobSsh(job.id()).hostKey() != null);
        JobSsh ssh = fleet.client.jobSsh(job.id());
        assertThat(ssh.hostKey()).startsWith("ssh-ed25519 ");
        Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + ssh.gatewayPort() + " " + ssh.gatewayHostKey() + "\n"
                + job.id() + " " + ssh.hostKey() + "\n");
        Path config = config(admin, ssh.gatewayPort());

        OpenSsh.Result shell = run("ssh", "-F", config.toString(), "-J", "kiln-gateway", "runner@" + job.id(),
                "echo \"$(id -un) on $(hostname)\"; exit 7");
        assertThat(shell.output()).as(shell.toString()).isEqualTo("runner on kiln-" + fleet.client.job(job.id()).vm().replaceFirst("^vm-", ""));
        assertThat(shell.code()).isEqualTo(7);

        // A PTY with the terminal's size, and a resize carried to it while the session runs: `script` gives ssh a terminal
        // of 123x45, which a background `stty` makes 77x33 (SIGWINCH: ssh sends a window-change) while the VM waits for it.
        String sshTty = "ssh -F " + config + " -J kiln-gateway -tt runner@" + job.id()
                + " 'tty; stty size; for i in $(seq 300); do [ \"$(stty size)\" = \"33 77\" ] && break; sleep 0.2; done; stty size'";
        OpenSsh.Result pty = run("script", "-qec", "stty cols 123 rows 45; (sleep 20; stty cols 77 rows 33 < /dev/tty) & " + sshTty,
                "/dev/null");
        assertThat(pty.output().replace("\r", "")).as(pty.toString()).containsPattern("/dev/pts/\\d+\n45 123\n33 77");

        Path payload = Files.writeString(dir.resolve("payload"), "through the gateway\n".repeat(5000));
        OpenSsh.Result copy = run("scp", "-q", "-F", config.toString(), "-J", "kiln-gateway", payload.toString(),
                "runner@" + job.id() + ":/tmp/payload");
        assertThat(copy.code()).as(copy.toString()).isZero();
        assertThat(run("ssh", "-F", config.toString(), "-J", "kiln-gateway", "runner@" + job.id(), "wc -c < /tmp/payload")
                .output()).isEqualTo(String.valueOf(Files.size(payload)));

        // -L: a web server in the VM, on its loopback, reached from here.
        assertThat(run("ssh", "-F", config.toString(), "-J", "kiln-gateway", "runner@" + job.id(),
                "mkdir -p /tmp/www && echo forwarded > /tmp/www/index.html && busybox httpd -p 127.0.0.1:8000 -h /tmp/www")
                .code()).isZero();
        int local;
        try (ServerSocket free = new ServerSocket(0)) {
            local = free.getLocalPort();
        }
        Process forward = new ProcessBuilder("ssh", "-F", config.toString(), "-J", "kiln-gateway", "-N",
                "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:" + local + ":127.0.0.1:8000", "runner@" + job.id())
                .redirectErrorStream(true).redirectOutput(dir.resolve("forward.log").toFile()).start();
        try {
            HttpClient http = HttpClient.newHttpClient();
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> http.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + local + "/index.html")).build(),
                    HttpResponse.BodyHandlers.ofString()).body().equals("forwarded\n"));
        } finally {
            forward.destroy();
            forward.waitFor(30, TimeUnit.SECONDS);
        }

        Path strangerConfig = config(stranger, ssh.gatewayPort());
        OpenSsh.Result refused = run("ssh", "-F", strangerConfig.toString(), "-J", "kiln-gateway", "runner@" + job.id(), "true");
        assertThat(refused.code()).isEqualTo(255);
        assertThat(refused.output()).contains("Permission denied");
        OpenSsh.Result unknown = run("ssh", "-F", config.toString(), "-J", "kiln-gateway", "runner@no-such-job", "true");
        assertThat(unknown.code()).isEqualTo(255);
        assertThat(unknown.output()).contains("open failed: connect failed");

        // A session still open when the job ends is closed with the VM.
        Process held = new ProcessBuilder("ssh", "-F", config.toString(), "-J", "kiln-gateway", "runner@" + job.id(),
                "echo holding; sleep 600").redirectErrorStream(true).start();
        assertThat(new String(held.getInputStream().readNBytes(8), StandardCharsets.UTF_8)).isEqualTo("holding\n");
        // Released a moment after this session is over: a VM that ended at once could cut the session's own close.
        assertThat(run("ssh", "-F", config.toString(), "-J", "kiln-gateway", "runner@" + job.id(),
                "(sleep 2; touch /tmp/kiln-done) < /dev/null > /dev/null 2>&1 &").code()).isZero();
        await().atMost(Duration.ofSeconds(120)).until(() -> fleet.client.job(job.id()).state().terminal());
        assertThat(fleet.client.job(job.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fleet.client.logs(job.id(), 0, Duration.ZERO).entries().stream().map(LogPage.Entry::text)
                .collect(Collectors.joining())).isEqualTo("finished\n");
        assertThat(held.waitFor(60, TimeUnit.SECONDS)).as("the session ends with the VM").isTrue();

        List<SshSessionView> sessions = fleet.client.jobSsh(job.id()).sessions();
        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.client.jobSsh(job.id()).sessions().stream()
                .allMatch(s -> s.endedAt() != null));
        assertThat(sessions).hasSizeGreaterThanOrEqualTo(7).allSatisfy(s -> {
            assertThat(s.user()).isEqualTo("admin");
            assertThat(s.keyFingerprint()).startsWith("SHA256:");
            assertThat(s.remoteAddress()).startsWith("127.0.0.1:");
            assertThat(s.vm()).isEqualTo(fleet.client.job(job.id()).vm());
        });

        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.client.vms().isEmpty());
        hosts.assertNothingLeft(List.of(fleet.client.job(job.id()).vm()));
        // A connection closed towards a VM that is gone may linger in the kernel (FIN-WAIT, TIME-WAIT) without any
        // process: what counts is that no process holds a socket to the VM and nothing listens for it.
        OpenSsh.Result sockets = run("ip", "netns", "exec", host.lab().hostNamespace(), "ss", "-tanpH");
        assertThat(sockets.output().lines())
                .as("no process holds a connection to the VM, nor listens for it, in the VMs' namespace")
                .noneMatch(line -> line.contains("10.216.") && line.contains("users:"))
                .noneMatch(line -> line.startsWith("LISTEN") && line.contains(":22 "));
        assertThat(run("pgrep", "-f", "socat - TCP:10.216.").code()).as("no relay process is left").isEqualTo(1);
    }

    private Path keyPair(String name) {
        return OpenSsh.keyPair(dir, name);
    }

    /** An ssh_config naming the gateway, the key, and the known hosts, strictly checked. */
    private Path config(Path key, int port) throws Exception {
        return Files.writeString(dir.resolve("ssh_config-" + key.getFileName()), """
                Host kiln-gateway
                  HostName 127.0.0.1
                  Port %d
                  User admin
                Host *
                  IdentityFile %s
                  IdentitiesOnly yes
                  UserKnownHostsFile %s
                  StrictHostKeyChecking yes
                  BatchMode yes
                  ConnectTimeout 60
                """.formatted(port, key, dir.resolve("known_hosts")));
    }

    private static OpenSsh.Result run(String... command) {
        return OpenSsh.run(List.of(command));
    }
}
