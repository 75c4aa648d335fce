package dev.kiln.cli;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `kiln job ID`: one job and its timeline. */
@Command(name = "job", description = "Shows a job and its timeline.")
final class JobCommand implements Callable<Integer> {
    final ClientOptions server = new ClientOptions();

    @Parameters(paramLabel = "ID")
    String id;

    @Option(names = "--json", description = "print JSON")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        JobView job = server.client().job(id);
        var out = spec.commandLine().getOut();
        if (json) {
            Output.json(out, job);
            return ExitCodes.OK;
        }
        out.printf("job %s: %s%n", job.id(), job.state());
        if (job.github() != null) {
            JobView.GitHubJob g = job.github();
            out.printf("  github   %s, %s%s (job %d, run %d), labels %s%n", g.repository(),
                    g.workflow() == null ? "" : g.workflow() + " / ", g.jobName(), g.ranJobId() != null ? g.ranJobId() : g.jobId(),
                    g.runId(), g.labels());
            out.printf("  runner   %s%s%n", Output.orDash(g.runnerName()), g.ranJobId() != null && g.ranJobId() != g.jobId()
                    ? " (made for GitHub job " + g.jobId() + ", took " + g.ranJobId() + ")" : "");
            if (g.conclusion() != null) {
                out.printf("  result   %s (started %s, completed %s)%n", g.conclusion(), Output.orDash(g.startedAt()),
                        Output.orDash(g.completedAt()));
            }
        } else {
            out.printf("  command  %s%n", String.join(" ", job.command()));
        }
        out.printf("  size     %d vCPUs, %s memory, %d GiB disk, %s%n", job.cpus(), Output.mib(job.memoryMib()),
                job.diskGib(), job.arch());
        out.printf("  image    %s%n", job.image());
        out.printf("  host     %s (VM %s)%n", Output.orDash(job.host()), Output.orDash(job.vm()));
        if (job.exitCode() != null) {
            out.printf("  exit     %d%n", job.exitCode());
        }
        if (job.errorCode() != null) {
            out.printf("  error    %s: %s%n", job.errorCode(), job.detail());
        } else if (job.state() == JobState.QUEUED && job.detail() != null) {
            out.printf("  waits    %s%n", job.detail());
        }
        out.println("  timeline");
        for (JobEvent event : job.timeline()) {
            out.printf("    %-24s %-10s %s%n", event.at(), event.state(), Output.orDash(event.detail()));
        }
        var ssh = server.client().jobSsh(id);
        if (!ssh.sessions().isEmpty()) {
            out.println("  ssh sessions");
            for (var s : ssh.sessions()) {
                out.printf("    %-24s %-24s %s (%s) from %s, %s%n", s.startedAt(), Output.orDash(s.endedAt()), s.user(),
                        s.keyFingerprint(), s.remoteAddress(), s.endedAt() == null ? "open" : Output.orDash(s.endReason()));
            }
        }
        return ExitCodes.OK;
    }
}
