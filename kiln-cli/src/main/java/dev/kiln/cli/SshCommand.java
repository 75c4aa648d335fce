package dev.kiln.cli;

import dev.kiln.api.JobSsh;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * `kiln ssh JOB [COMMAND…]`: a shell (or a command) as `runner` in a running job's VM, through the server's SSH
 * gateway, with the real OpenSSH client. Both hops' host keys come from the server (the gateway's own, and the one
 * the VM's host made for it) and are checked strictly: nothing is trusted on first use.
 */
@Command(name = "ssh", description = "Opens a shell (or runs a command) as runner in a running job's VM through the server's SSH gateway.")
final class SshCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Parameters(index = "0", paramLabel = "JOB")
    String job;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "run this instead of a shell")
    List<String> command = new ArrayList<>();

    @Option(names = {"-i", "--identity"}, paramLabel = "FILE", description = "the private key to log in with (default: ssh's)")
    Path identity;

    @Option(names = "--user", description = "the user name at the gateway (default: $USER)")
    String user = System.getProperty("user.name");

    @Option(names = "-L", paramLabel = "[BIND:]PORT:HOST:HOSTPORT", description = "forward a local port into the VM (ssh -L)")
    List<String> forwards = new ArrayList<>();

    @Override
    public Integer call() throws IOException, InterruptedException {
        JobSsh ssh = server.client().jobSsh(job);
        if (ssh.gatewayPort() <= 0) {
            throw new KilnException(ErrorCode.NOT_FOUND, "the server runs no SSH gateway: start it with `kiln server"
                    + " --ssh-listen HOST:PORT --ssh-authorized-keys FILE`");
        }
        if (ssh.hostKey() == null) {
            throw new KilnException(ErrorCode.CONFLICT, "job " + job + " has no debugging shell now: its VM is not"
                    + " running yet (or was launched before the gateway ran); see `kiln job " + job + "`");
        }
        String gatewayHost = URI.create(server.server()).getHost();
        Path dir = Files.createTempDirectory("kiln-ssh-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path knownHosts = dir.resolve("known_hosts");
        try {
            Files.writeString(knownHosts, "[" + gatewayHost + "]:" + ssh.gatewayPort() + " " + ssh.gatewayHostKey() + "\n"
                    + job + " " + ssh.hostKey() + "\n");
            List<String> common = new ArrayList<>(List.of("-o", "UserKnownHostsFile=" + knownHosts,
                    "-o", "StrictHostKeyChecking=yes", "-o", "GlobalKnownHostsFile=/dev/null"));
            if (identity != null) {
                common.addAll(List.of("-i", identity.toString(), "-o", "IdentitiesOnly=yes"));
            }
            // The first hop as a ProxyCommand, so that it gets the same known hosts (-J passes no -o to it).
            StringBuilder proxy = new StringBuilder("ssh");
            for (String word : common) {
                proxy.append(' ').append(quote(word));
            }
            proxy.append(" -p ").append(ssh.gatewayPort()).append(" -W %h:%p ").append(quote(user + "@" + gatewayHost));
            List<String> argv = new ArrayList<>(List.of("ssh"));
            argv.addAll(common);
            argv.addAll(List.of("-o", "ProxyCommand=" + proxy));
            forwards.forEach(forward -> argv.addAll(List.of("-L", forward)));
            argv.add("runner@" + job);
            argv.addAll(command);
            Process process = new ProcessBuilder(argv).inheritIO().start();
            return process.waitFor();
        } finally {
            Files.deleteIfExists(knownHosts);
            Files.deleteIfExists(dir);
        }
    }

    private static String quote(String word) {
        return "'" + word.replace("'", "'\\''") + "'";
    }
}
