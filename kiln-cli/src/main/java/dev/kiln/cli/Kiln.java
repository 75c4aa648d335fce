package dev.kiln.cli;

import dev.kiln.core.KilnException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `kiln` command. */
@Command(name = "kiln", mixinStandardHelpOptions = true, version = "kiln 0.1.0",
        description = "Runs every CI job in its own fresh microVM.",
        subcommands = {RunCommand.class, ImageCommand.class, DoctorCommand.class, ServerCommand.class,
                AgentCommand.class, UpCommand.class, HostsCommand.class, JobsCommand.class, JobCommand.class,
                VmsCommand.class, LogsCommand.class, CancelCommand.class, WarmupCommand.class, GitHubCommand.class,
                CommandLine.HelpCommand.class})
public final class Kiln {

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    static int execute(String... args) {
        return execute(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        CommandLine commandLine = new CommandLine(new Kiln()).setOut(out).setErr(err).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    if (e instanceof KilnException kiln) {
                        cmd.getErr().println("kiln: " + kiln.getMessage());
                        return ExitCodes.of(kiln.code());
                    }
                    throw e;
                });
        return commandLine.execute(args);
    }
}
