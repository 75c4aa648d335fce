package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.server.ssh.SshGateway;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The SSH gateway's options, shared by `kiln server` and `kiln up`. */
final class SshOptions {
    @Option(names = "--ssh-listen", paramLabel = "HOST:PORT",
            description = "run the SSH gateway for debugging shells (`kiln ssh JOB`, `kiln-debug`) there; needs"
                    + " --ssh-authorized-keys")
    String sshListen;

    @Option(names = "--ssh-authorized-keys", paramLabel = "FILE",
            description = "the admins' public keys (authorized_keys format): they may reach every running job over SSH")
    Path sshAuthorizedKeys;

    @Option(names = "--ssh-org-keys", paramLabel = "DIR",
            description = "a folder of authorized_keys files named by organisation (DIR/acme): those keys may reach"
                    + " that organisation's jobs")
    Path sshOrgKeys;

    /** The SSH gateway's settings, or null without --ssh-listen; its host key lives in the data directory. */
    SshGateway.Config config(Path data) {
        if (sshListen == null) {
            if (sshAuthorizedKeys != null || sshOrgKeys != null) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, (sshAuthorizedKeys != null ? "--ssh-authorized-keys"
                        : "--ssh-org-keys") + " needs --ssh-listen HOST:PORT");
            }
            return null;
        }
        if (sshAuthorizedKeys == null) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--ssh-listen needs --ssh-authorized-keys FILE: the keys"
                    + " of the admins, who may reach every job");
        }
        int colon = sshListen.lastIndexOf(':');
        try {
            return new SshGateway.Config(colon <= 0 ? "127.0.0.1" : sshListen.substring(0, colon),
                    Integer.parseInt(sshListen.substring(colon + 1)), data.resolve("ssh-host-key"), sshAuthorizedKeys,
                    sshOrgKeys);
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--ssh-listen '" + sshListen + "' is not HOST:PORT");
        }
    }
}
