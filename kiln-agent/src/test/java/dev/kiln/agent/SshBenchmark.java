package dev.kiln.agent;

import dev.kiln.api.JobRequest;
import dev.kiln.api.JobSsh;
import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import dev.kiln.server.ssh.SshGateway;
import dev.kiln.testkit.OpenSsh;
import dev.kiln.testkit.TestingClock;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debugging shells through the gateway against a direct SSH to the same VM from its host, interleaved in one run on
 * one VM (the default image under TCG, in a network lab): the time to a first command ({@code ssh … true}, a new
 * connection each time), the round trip of a one-byte echo in an open session, and the throughput of {@code scp}
 * of a file of random bytes (100 MB unless the first argument says otherwise). The gateway's path is the user's
 * ssh → the gateway (MINA, loopback) → the agent's SSH connection to it → the agent's relay in the host's
 * namespace → the VM's sshd; the direct one is ssh in the host's namespace → the VM's sshd.
 * Run by bench/ssh/run.sh; prints Markdown.
 */
public final class SshBenchmark {
    static final int ROUNDS = 10;
    static final int ECHOES = 200;

    public static void main(String[] args) throws Exception {
        int megabytes = args.length > 0 ? Integer.parseInt(args[0]) : 100;
        Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-ssh-bench-");
        RealHosts.requireImage("default");
        Path key = OpenSsh.keyPair(dir, "admin");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(key)));
        try (TestFleet fleet = new TestFleet(dir, c -> c, null, new TestingClock(), List.of(),
                new SshGateway.Config("127.0.0.1", 0, dir.resolve("gateway-host-key"), authorized));
             RealHosts hosts = new RealHosts(fleet)) {
            RealHosts.Host host = hosts.add("h1", 8, false);
            JobView job = fleet.client.submit(JobRequest.command(List.of("sh", "-c",
                    "while [ ! -e /tmp/kiln-done ]; do sleep 0.2; done"), 1, 1024, 4));
            Instant deadline = Instant.now().plus(Duration.ofMinutes(5));
            while (fleet.client.job(job.id()).state() != JobState.RUNNING || fleet.client.jobSsh(job.id()).hostKey() == null) {
                if (Instant.now().isAfter(deadline)) {
                    throw new IllegalStateException("job " + job.id() + " did not run with sshd within 5 minutes: "
                            + fleet.client.job(job.id()));
                }
                Thread.sleep(500);
            }
            JobSsh ssh = fleet.client.jobSsh(job.id());
            Paths paths = new Paths(dir, key, ssh.gatewayPort(), job.id(), host.lab().hostNamespace());
            Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:" + ssh.gatewayPort() + " " + ssh.gatewayHostKey()
                    + "\n" + job.id() + " " + ssh.hostKey() + "\n");
            String address = check(OpenSsh.run(paths.viaGateway("ip -4 -o addr show eth0"))).output()
                    .replaceAll("(?s).*inet ([0-9.]+)/.*", "$1");
            Files.writeString(dir.resolve("known_hosts"), address + " " + ssh.hostKey() + "\n", java.nio.file.StandardOpenOption.APPEND);
            paths.address = address;

            // Warm both paths (the agent's connection, the VM's page cache for sshd and the shell).
            check(OpenSsh.run(paths.viaGateway("true")));
            check(OpenSsh.run(paths.direct("true")));
            double[] gatewayFirst = new double[ROUNDS];
            double[] directFirst = new double[ROUNDS];
            for (int i = 0; i < ROUNDS; i++) {
                gatewayFirst[i] = timed(paths.viaGateway("true"));
                directFirst[i] = timed(paths.direct("true"));
            }
            double[] gatewayEcho = echo(paths.viaGateway("cat"));
            double[] directEcho = echo(paths.direct("cat"));

            Path blob = dir.resolve("blob");
            byte[] chunk = new byte[1 << 20];
            java.util.Random random = new java.util.Random(18);
            try (OutputStream out = Files.newOutputStream(blob)) {
                for (int i = 0; i < megabytes; i++) {
                    random.nextBytes(chunk);
                    out.write(chunk);
                }
            }
            String target = "/run/kiln/scratch/work/blob";
            double gatewayCopy = timed(paths.scpViaGateway(blob, target));
            check(OpenSsh.run(paths.viaGateway("rm -f " + target)));
            double directCopy = timed(paths.scpDirect(blob, target));
            check(OpenSsh.run(paths.direct("rm -f " + target)));
            check(OpenSsh.run(paths.direct("touch /tmp/kiln-done")));
            while (!fleet.client.job(job.id()).state().terminal()) {
                Thread.sleep(200);
            }

            System.out.println("| measure | through the gateway | direct from the host | ratio |");
            System.out.println("| --- | --- | --- | --- |");
            row("time to a first command (`ssh … true`), median of " + ROUNDS, median(gatewayFirst), median(directFirst), "ms");
            row("one-byte echo round trip in a session, median of " + ECHOES, median(gatewayEcho), median(directEcho), "ms");
            row("one-byte echo round trip, 90th percentile", percentile(gatewayEcho, 0.9), percentile(directEcho, 0.9), "ms");
            row("`scp` of " + megabytes + " MB, time", gatewayCopy, directCopy, "ms");
            System.out.printf("| `scp` of %d MB, throughput | %.1f MB/s | %.1f MB/s | %.2fx |%n", megabytes,
                    megabytes * 1000.0 / gatewayCopy, megabytes * 1000.0 / directCopy, directCopy / gatewayCopy);
        }
    }

    /** The two paths' commands, with one key and strictly checked host keys. */
    static final class Paths {
        final Path dir;
        final Path key;
        final int gatewayPort;
        final String job;
        final String namespace;
        String address;

        Paths(Path dir, Path key, int gatewayPort, String job, String namespace) {
            this.dir = dir;
            this.key = key;
            this.gatewayPort = gatewayPort;
            this.job = job;
            this.namespace = namespace;
        }

        List<String> options() {
            return List.of("-i", key.toString(), "-o", "IdentitiesOnly=yes", "-o", "UserKnownHostsFile=" + dir.resolve("known_hosts"),
                    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes");
        }

        String proxy() {
            return "ProxyCommand=ssh " + String.join(" ", options()) + " -p " + gatewayPort + " -W %h:%p admin@127.0.0.1";
        }

        List<String> viaGateway(String command) {
            List<String> argv = new ArrayList<>(List.of("ssh"));
            argv.addAll(options());
            argv.addAll(List.of("-o", proxy(), "runner@" + job, command));
            return argv;
        }

        List<String> direct(String command) {
            List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", namespace, "ssh"));
            argv.addAll(options());
            argv.addAll(List.of("runner@" + address, command));
            return argv;
        }

        List<String> scpViaGateway(Path file, String target) {
            List<String> argv = new ArrayList<>(List.of("scp", "-q"));
            argv.addAll(options());
            argv.addAll(List.of("-o", proxy(), file.toString(), "runner@" + job + ":" + target));
            return argv;
        }

        List<String> scpDirect(Path file, String target) {
            List<String> argv = new ArrayList<>(List.of("ip", "netns", "exec", namespace, "scp", "-q"));
            argv.addAll(options());
            argv.addAll(List.of(file.toString(), "runner@" + address + ":" + target));
            return argv;
        }
    }

    private static OpenSsh.Result check(OpenSsh.Result result) {
        if (result.code() != 0) {
            throw new IllegalStateException("exit " + result.code() + ": " + result.output());
        }
        return result;
    }

    /** Milliseconds the command took, which must succeed. */
    private static double timed(List<String> command) throws Exception {
        long start = System.nanoTime();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(10, TimeUnit.MINUTES) || process.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + output);
        }
        return (System.nanoTime() - start) / 1e6;
    }

    /** Round trips in milliseconds of one byte written to {@code cat} in a session and read back. */
    private static double[] echo(List<String> command) throws Exception {
        Process process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        double[] trips = new double[ECHOES];
        try (OutputStream out = process.getOutputStream(); InputStream in = process.getInputStream()) {
            for (int i = -5; i < ECHOES; i++) { // five to warm up
                long start = System.nanoTime();
                out.write('x');
                out.flush();
                if (in.read() != 'x') {
                    throw new IllegalStateException("the echo through " + command + " broke off");
                }
                if (i >= 0) {
                    trips[i] = (System.nanoTime() - start) / 1e6;
                }
            }
        }
        process.waitFor(60, TimeUnit.SECONDS);
        return trips;
    }

    private static void row(String what, double gateway, double direct, String unit) {
        System.out.printf("| %s | %.1f %s | %.1f %s | %.2fx |%n", what, gateway, unit, direct, unit, gateway / direct);
    }

    private static double median(double[] values) {
        return percentile(values, 0.5);
    }

    private static double percentile(double[] values, double p) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
    }
}
