package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `kiln uninstall`: removes what `kiln install` wrote; the data in /var/lib/kiln stays. */
@Command(name = "uninstall", description = "Removes Kiln's systemd units, the agent's token file and the server's"
        + " user (stop the units first: systemctl disable --now kiln-server kiln-agent kiln-up). Data stays.")
final class UninstallCommand implements Callable<Integer> {
    @Option(names = "--root", description = "uninstall from this directory instead of / (as systemd's --root)")
    Path root = Path.of("/");

    @Override
    public Integer call() {
        try {
            for (ServiceUnits.Role role : ServiceUnits.Role.values()) {
                remove(root.resolve(ServiceUnits.UNIT_DIR).resolve(role.unitName()));
            }
            remove(root.resolve(ServiceUnits.ENROLMENT_TOKEN));
            // The user only if `kiln install server` made it: its sysusers.d file says so.
            if (Files.deleteIfExists(root.resolve(ServiceUnits.SYSUSERS))) {
                InstallCommand.run("userdel", "--root", root.toAbsolutePath().toString(), ServiceUnits.USER);
                System.out.println("kiln: removed the user " + ServiceUnits.USER);
            }
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot uninstall from " + root + ": "
                    + e.getMessage(), e);
        }
        return ExitCodes.OK;
    }

    private static void remove(Path file) throws IOException {
        if (Files.deleteIfExists(file)) {
            System.out.println("kiln: removed " + file);
        }
    }
}
