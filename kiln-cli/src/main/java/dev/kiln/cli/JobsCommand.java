package dev.kiln.cli;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** `kiln jobs`: the newest jobs, optionally of one state. */
@Command(name = "jobs", description = "Lists jobs, newest first.")
final class JobsCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Option(names = "--state", description = "only jobs in this state: ${COMPLETION-CANDIDATES}")
    JobState state;

    @Option(names = "--limit", description = "at most this many (default: 100)")
    int limit = 100;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        List<JobView> jobs = server.client().jobs(state, limit);
        var out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, jobs);
        } else {
            Output.table(out, List.of("ID", "STATE", "SIZE", "HOST", "VM", "EXIT", "CREATED", "WHAT"),
                    jobs.stream().map(j -> List.of(j.id(), j.state().name(), j.cpus() + "cpu-" + Output.mib(j.memoryMib()),
                            Output.orDash(j.host()), Output.orDash(j.github() != null && j.github().conclusion() != null
                                    ? j.github().conclusion() : j.exitCode() != null ? j.exitCode() : j.errorCode()),
                            j.createdAt(), what(j))).toList());
        }
        return ExitCodes.OK;
    }

    /**
     * A command, or for a GitHub job: repository, workflow / job, labels, and the runner it ran on; then why a
     * queued job waits (no host can hold it, its launch was withdrawn) or why a GitHub job failed (invalid labels).
     */
    static String what(JobView j) {
        JobView.GitHubJob g = j.github();
        String why = j.detail() != null && (j.state() == JobState.QUEUED || g != null && j.errorCode() != null)
                ? " — " + j.detail() : "";
        if (g == null) {
            return shorten(String.join(" ", j.command())) + why;
        }
        return g.repository() + " " + (g.workflow() == null ? "" : g.workflow() + " / ") + g.jobName() + " "
                + g.labels() + " runner " + Output.orDash(g.runnerName()) + " (GitHub job "
                + (g.ranJobId() != null ? g.ranJobId() : g.jobId()) + ")" + why;
    }

    private static String shorten(String text) {
        return text.length() <= 50 ? text : text.substring(0, 49) + "…";
    }
}
