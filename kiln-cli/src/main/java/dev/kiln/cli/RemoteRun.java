package dev.kiln.cli;

import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.PrintWriter;

/**
 * `kiln run` through a server: submit, stream the output, exit as the command did. While the server is away
 * (restarting, a network blip) it reconnects and resumes the output where it was ({@link Reconnect}); only
 * after the deadline does it give up, with {@link ExitCodes#SERVER_LOST} and how to follow the job.
 */
final class RemoteRun {
    private RemoteRun() {}

    static int run(KilnClient client, JobRequest request, boolean verbose, PrintWriter out, PrintWriter err) {
        return run(client, request, verbose, out, err, Reconnect.system(verbose ? err : null));
    }

    /**
     * @param reconnect how long and how the output and the outcome are asked again while the server is away
     *     (the submission is not: a lost answer may have made the job)
     */
    static int run(KilnClient client, JobRequest request, boolean verbose, PrintWriter out, PrintWriter err,
            Reconnect reconnect) {
        JobView job = client.submit(request);
        if (verbose) {
            err.println("kiln: job " + job.id() + " queued on " + client.server());
        }
        Thread onInterrupt = new Thread(() -> {
            try {
                client.cancel(job.id());
            } catch (KilnException ignored) {
                // Ended meanwhile, or the server is gone: nothing left to stop from here.
            }
        }, "kiln-run-cancel");
        Runtime.getRuntime().addShutdownHook(onInterrupt);
        JobView done;
        try {
            LogsCommand.print(client, job.id(), true, out, err, reconnect);
            done = reconnect.call(client.server().toString(), job.id(), () -> client.job(job.id()));
        } finally {
            Runtime.getRuntime().removeShutdownHook(onInterrupt);
        }
        if (verbose) {
            err.println("kiln: job " + done.id() + " " + done.state() + " on host " + done.host());
        }
        if (done.exitCode() != null) {
            return done.exitCode();
        }
        ErrorCode code = switch (done.state()) {
            case CANCELLED -> ErrorCode.CANCELLED;
            case LOST -> ErrorCode.JOB_LOST;
            default -> {
                try {
                    yield done.errorCode() == null ? ErrorCode.INTERNAL : ErrorCode.valueOf(done.errorCode());
                } catch (IllegalArgumentException e) {
                    yield ErrorCode.INTERNAL;
                }
            }
        };
        throw new KilnException(code, "job " + done.id() + " " + done.state() + ": " + done.detail());
    }
}
