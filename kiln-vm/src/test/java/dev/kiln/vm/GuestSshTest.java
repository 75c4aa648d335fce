package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testkit.OpenSsh;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VM with a debugging shell, reached from its host with the real OpenSSH client: the guest's sshd answers with
 * the host key its host made for it (checked strictly, never trusted on first use), lets `runner` in with an
 * allowed key only, runs commands with their exit codes, takes files by scp, and goes with the VM.
 * Boots the default image with sshd (bin/test builds it; -Dkiln.test.image.default=NAME names another build).
 */
@Tag("vm")
@Timeout(300)
class GuestSshTest {
    @RegisterExtension
    static final TestHost host = new TestHost("default");

    @TempDir
    Path dir;

    @Test
    void theHostLogsInWithAnAllowedKeyAndVerifiesTheVmsOwnHostKey() throws Exception {
        Path key = keyPair("allowed");
        Path other = keyPair("other");
        // The job ends once released and no session is open: a VM that ended at once would cut the releasing
        // session's own close (ssh's exit 255).
        VmSpec spec = host.spec(1, 512, Duration.ofMinutes(4), "sh", "-c",
                "while [ ! -e /tmp/kiln-done ] || pgrep -f '^sshd: runner' > /dev/null; do sleep 0.2; done; echo finished")
                .withSshAuthorizedKeys(List.of(Files.readString(OpenSsh.publicKey(key)).strip()));
        AtomicReference<GuestSshEndpoint> endpoint = new AtomicReference<>();
        CompletableFuture<Void> ready = new CompletableFuture<>();
        TestHost.Output output = new TestHost.Output() {
            @Override
            public void ssh(GuestSshEndpoint at) {
                endpoint.set(at);
            }

            @Override
            public void ready() {
                ready.complete(null);
            }
        };
        CompletableFuture<VmResult> run = CompletableFuture.supplyAsync(() -> host.engine.run(spec, output),
                r -> Thread.ofVirtual().start(r));
        CompletableFuture.anyOf(ready, run).get(240, TimeUnit.SECONDS);
        assertThat(run).as("the VM runs until told to stop: %s", output.stderr()).isNotDone();
        GuestSshEndpoint at = endpoint.get();
        assertThat(at).as("the engine tells where the VM's sshd is before the boot").isNotNull();
        assertThat(at.netns()).isEqualTo(host.lab.hostNamespace());
        assertThat(at.hostKey()).startsWith("ssh-ed25519 ");
        Path knownHosts = Files.writeString(dir.resolve("known_hosts"), at.address() + " " + at.hostKey() + "\n");

        OpenSsh.Result shell = ssh(key, knownHosts, at, "echo \"$(id -un) on $(hostname)\"; exit 7");
        assertThat(shell.output()).as(shell.toString()).isEqualTo("runner on kiln-" + spec.vmId().replaceFirst("^vm-", ""));
        assertThat(shell.code()).isEqualTo(7);

        Path file = Files.write(dir.resolve("payload"), "bytes to the VM\n".repeat(1000).getBytes(StandardCharsets.UTF_8));
        OpenSsh.Result copy = run(List.of("scp", "-q", "-i", key.toString(), "-o", "UserKnownHostsFile=" + knownHosts,
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", file.toString(),
                "runner@" + at.address() + ":/tmp/payload"));
        assertThat(copy.code()).as(copy.toString()).isZero();
        OpenSsh.Result sum = ssh(key, knownHosts, at, "sha256sum < /tmp/payload");
        assertThat(sum.output()).startsWith(run(List.of("sh", "-c", "sha256sum < " + file)).output());

        OpenSsh.Result wrongKey = ssh(other, knownHosts, at, "true");
        assertThat(wrongKey.code()).isEqualTo(255);
        assertThat(wrongKey.output()).contains("Permission denied (publickey)");

        Path impostor = Files.writeString(dir.resolve("known_hosts_other"),
                at.address() + " " + SshHostKey.generate("impostor").publicKey() + "\n");
        OpenSsh.Result unverified = ssh(key, impostor, at, "true");
        assertThat(unverified.code()).as("a host key other than the one the host made is refused").isEqualTo(255);
        assertThat(unverified.output()).contains("Host key verification failed");

        assertThat(ssh(key, knownHosts, at, "touch /tmp/kiln-done").code()).isZero();
        VmResult result = run.get(120, TimeUnit.SECONDS);
        assertThat(result.exitCode()).hasValue(0);
        assertThat(output.stdout()).isEqualTo("finished\n");

        OpenSsh.Result after = ssh(key, knownHosts, at, "true");
        assertThat(after.code()).as("the shell goes with the VM").isEqualTo(255);
        OpenSsh.Result sockets = run(List.of("ip", "netns", "exec", host.lab.hostNamespace(), "ss", "-tanpH"));
        // A closed connection may linger in the kernel (TIME-WAIT, or FIN-WAIT-2 when the VM powered off before its
        // sshd's FIN): an orphan that no process holds. Nothing may listen, stay established or be held by a process.
        assertThat(sockets.output().lines().filter(line -> line.contains(at.address() + ":")))
                .as("nothing listens or stays connected in the VMs' namespace")
                .noneMatch(line -> line.contains("users:") || line.startsWith("ESTAB") || line.startsWith("LISTEN"));
    }

    private Path keyPair(String name) {
        return OpenSsh.keyPair(dir, name);
    }

    private OpenSsh.Result ssh(Path key, Path knownHosts, GuestSshEndpoint at, String command) throws Exception {
        return run(List.of("ssh", "-i", key.toString(), "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + knownHosts,
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=60",
                "runner@" + at.address(), command));
    }

    /** Runs a command in the VMs' namespace (where their taps are), as the agent reaches its VMs. */
    private OpenSsh.Result run(List<String> command) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", host.lab.hostNamespace()));
        full.addAll(command);
        return OpenSsh.run(command.getFirst().equals("ip") ? command : full);
    }
}
