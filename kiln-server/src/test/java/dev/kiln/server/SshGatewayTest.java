package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.AgentClient;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobSsh;
import dev.kiln.api.KilnClient;
import dev.kiln.api.SshGatewayInfo;
import dev.kiln.server.ssh.SshGateway;
import dev.kiln.testkit.OpenSsh;
import dev.kiln.testkit.TestingClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SSH gateway's edge, with the real OpenSSH client and no VM: a stranger's key is refused, an authorized user
 * gets no shell of the gateway's and cannot reach a job that does not run, agents learn the gateway's address and
 * host key from the server, and the host key persists (0600) across restarts.
 */
@Timeout(120)
class SshGatewayTest {
    private static final String ADMIN = "ssh-admin-token-0123456789";

    @TempDir
    Path dir;
    private KilnServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private KilnServer start(Path authorized) {
        ServerConfig config = ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0);
        return KilnServer.start(config, new TestingClock(), null, List.of(), null,
                new SshGateway.Config("127.0.0.1", 0, dir.resolve("ssh-host-key"), authorized));
    }

    @Test
    void refusesStrangersAndJobsThatDoNotRunAndKeepsItsHostKey() throws Exception {
        Path user = keyPair("user");
        Path stranger = keyPair("stranger");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"),
                "# the admins\n" + Files.readString(OpenSsh.publicKey(user)));
        server = start(authorized);
        KilnClient client = new KilnClient(server.uri(), ADMIN);
        String token = AgentClient.enrol(server.uri(), client.addHost("h1").enrolmentToken()).hostToken();
        SshGatewayInfo gateway = new AgentClient(server.uri(), token).sshGateway();
        assertThat(gateway.port()).isEqualTo(server.sshPort());
        assertThat(Files.getPosixFilePermissions(dir.resolve("ssh-host-key"))).hasSize(2);
        Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + gateway.port() + " " + gateway.hostKey() + "\n");

        OpenSsh.Result shell = ssh(user, gateway.port(), "whoami");
        assertThat(shell.code()).as(shell.toString()).isEqualTo(1);
        assertThat(shell.output()).contains("opens no shell").contains("kiln ssh JOB");

        OpenSsh.Result unknown = ssh(user, gateway.port(), "-W", "no-such-job:22");
        assertThat(unknown.code()).isEqualTo(255);
        // MINA sends the reason's code, never its text (the gateway logs it): `kiln ssh` says why before it connects.
        assertThat(unknown.output()).contains("open failed: connect failed");

        String queued = client.submit(JobRequest.command(List.of("true"), 1, 512, 1)).id();
        OpenSsh.Result notRunning = ssh(user, gateway.port(), "-W", queued + ":22");
        assertThat(notRunning.output()).contains("open failed: connect failed");
        JobSsh view = client.jobSsh(queued);
        assertThat(view.hostKey()).isNull();
        assertThat(view.gatewayPort()).isEqualTo(gateway.port());
        assertThat(view.sessions()).isEmpty();

        OpenSsh.Result otherPort = ssh(user, gateway.port(), "-W", queued + ":80");
        assertThat(otherPort.output()).contains("open failed: administratively prohibited");

        OpenSsh.Result refused = ssh(stranger, gateway.port(), "whoami");
        assertThat(refused.code()).isEqualTo(255);
        assertThat(refused.output()).contains("Permission denied (publickey,password)");

        server.close();
        server = start(authorized);
        OpenSsh.Result again = ssh(user, server.sshPort() == gateway.port() ? gateway.port() : rewrite(gateway, server.sshPort()),
                "whoami");
        assertThat(again.output()).as("the restarted gateway answers with the same host key").contains("opens no shell");
    }

    private int rewrite(SshGatewayInfo gateway, int port) throws Exception {
        Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + port + " " + gateway.hostKey() + "\n");
        return port;
    }

    private Path keyPair(String name) {
        return OpenSsh.keyPair(dir, name);
    }

    private OpenSsh.Result ssh(Path key, int port, String... rest) throws Exception {
        List<String> command = new ArrayList<>(List.of("ssh", "-i", key.toString(), "-o", "IdentitiesOnly=yes",
                "-o", "UserKnownHostsFile=" + dir.resolve("known_hosts"), "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-p", String.valueOf(port), "admin@127.0.0.1"));
        command.addAll(List.of(rest));
        return OpenSsh.run(command);
    }
}
