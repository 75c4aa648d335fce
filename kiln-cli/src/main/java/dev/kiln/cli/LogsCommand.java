package dev.kiln.cli;

import dev.kiln.api.KilnClient;
import dev.kiln.api.LogPage;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** `kiln logs JOB [-f]`: a job's output; with -f, followed until the job ends. */
@Command(name = "logs", description = "Prints a job's output; -f follows it until the job ends.")
final class LogsCommand implements Callable<Integer> {
    static final Duration WAIT = Duration.ofSeconds(20);

    final ClientOptions server = new ClientOptions();

    @Parameters(paramLabel = "JOB")
    String id;

    @Option(names = {"-f", "--follow"}, description = "keep printing until the job ends")
    boolean follow;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        print(server.client(), id, follow, spec.commandLine().getOut(), spec.commandLine().getErr());
        return ExitCodes.OK;
    }

    /** Prints the output from the start; with follow, waits (long poll) until the job has ended. */
    static void print(KilnClient client, String job, boolean follow, PrintWriter out, PrintWriter err) {
        print(client, job, follow, out, err, null);
    }

    /**
     * As {@link #print(KilnClient, String, boolean, PrintWriter, PrintWriter)}, asking each page through
     * {@code reconnect} (null: once). A page is printed whole once it has arrived and the cursor moves only
     * then, so a page asked again after a lost connection prints nothing twice and skips nothing.
     */
    static void print(KilnClient client, String job, boolean follow, PrintWriter out, PrintWriter err,
            Reconnect reconnect) {
        long cursor = 0;
        while (true) {
            long from = cursor;
            java.util.function.Supplier<LogPage> ask = () -> client.logs(job, from, follow ? WAIT : Duration.ZERO);
            LogPage page = reconnect == null ? ask.get() : reconnect.call(client.server().toString(), job, ask);
            for (LogPage.Entry entry : page.entries()) {
                PrintWriter target = entry.stream().equals("stderr") ? err : out;
                target.print(entry.text());
                target.flush();
            }
            cursor = page.next();
            if (page.finished() || (!follow && page.entries().isEmpty())) {
                return;
            }
        }
    }
}
