package dev.kiln.cli;

import dev.kiln.api.VmView;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** `kiln vms`: the VMs that hold room on hosts now. */
@Command(name = "vms", description = "Lists the VMs reserved or running on the hosts.")
final class VmsCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        List<VmView> vms = server.client().vms();
        var out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, vms);
        } else {
            Output.table(out, List.of("ID", "STATE", "JOB", "HOST", "SIZE", "CREATED"),
                    vms.stream().map(v -> List.of(v.id(), v.state().name(), v.job(), v.host(),
                            v.cpus() + "cpu-" + Output.mib(v.memoryMib()), v.createdAt())).toList());
        }
        return ExitCodes.OK;
    }
}
