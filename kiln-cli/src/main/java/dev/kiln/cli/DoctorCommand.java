package dev.kiln.cli;

import dev.kiln.vm.HostCheck;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** `kiln doctor`: every host prerequisite, and what to do about each one missing. */
@Command(name = "doctor", description = "Checks this host's prerequisites for running microVMs.")
final class DoctorCommand implements Callable<Integer> {
    final HostOptions host = new HostOptions();

    @Override
    public Integer call() {
        List<HostCheck.Finding> findings = HostCheck.run(host.config());
        boolean allOk = true;
        for (HostCheck.Finding finding : findings) {
            System.out.printf("%-7s %-22s %s%n", finding.ok() ? "ok" : "MISSING", finding.name(), finding.detail());
            if (!finding.ok()) {
                System.out.printf("%-7s %-22s -> %s%n", "", "", finding.remedy());
                allOk = false;
            }
        }
        return allOk ? ExitCodes.OK : ExitCodes.HOST_PREREQUISITE;
    }
}
