package dev.kiln.cli;

import dev.kiln.api.JobView;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `kiln cancel JOB`. */
@Command(name = "cancel", description = "Cancels a job: a queued one at once, a running one's VM is stopped.")
final class CancelCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Parameters(paramLabel = "JOB")
    String id;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        JobView job = server.client().cancel(id);
        spec.commandLine().getOut().println("job " + job.id() + " " + job.state());
        return ExitCodes.OK;
    }
}
