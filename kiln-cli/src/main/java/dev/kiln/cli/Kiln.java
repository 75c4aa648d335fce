package dev.kiln.cli;

import dev.kiln.core.KilnException;
import dev.kiln.vm.EngineWarmup;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `kiln` command. */
@Command(name = "kiln", mixinStandardHelpOptions = true, version = "kiln 0.1.0",
        description = "Runs every CI job in its own fresh microVM.")
public final class Kiln {
    /** The subcommands, in the order help lists them. */
    private static final List<String> COMMANDS = List.of("run", "image", "doctor", "server", "agent", "up", "hosts",
            "jobs", "job", "vms", "logs", "cancel", "warmup", "github", "help");

    /** A new instance of the subcommand with this name, or null; a switch, so only the one named is loaded. */
    private static Object command(String name) {
        return switch (name) {
            case "run" -> new RunCommand();
            case "image" -> new ImageCommand();
            case "doctor" -> new DoctorCommand();
            case "server" -> new ServerCommand();
            case "agent" -> new AgentCommand();
            case "up" -> new UpCommand();
            case "hosts" -> new HostsCommand();
            case "jobs" -> new JobsCommand();
            case "job" -> new JobCommand();
            case "vms" -> new VmsCommand();
            case "logs" -> new LogsCommand();
            case "cancel" -> new CancelCommand();
            case "warmup" -> new WarmupCommand();
            case "github" -> new GitHubCommand();
            case "help" -> new CommandLine.HelpCommand();
            default -> null;
        };
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("run")) {
            // Picocli takes ~0.1 s to read the arguments, on one core: the engine's first use warms up on the other.
            Thread.ofPlatform().daemon().name("kiln-engine-warmup").start(EngineWarmup::run);
        }
        System.exit(execute(args));
    }

    static int execute(String... args) {
        return execute(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        Object named = args.length > 0 && !args[0].equals("help") ? command(args[0]) : null;
        CommandLine commandLine;
        String[] arguments;
        if (named != null) {
            // Only the subcommand named is built, as a command line of its own: picocli builds each
            // command's model by reflection, and `kiln run` would wait ~0.1 s for all of them.
            commandLine = new CommandLine(named).setCommandName("kiln " + args[0]);
            arguments = Arrays.copyOfRange(args, 1, args.length);
        } else {
            commandLine = new CommandLine(new Kiln());
            COMMANDS.forEach(name -> commandLine.addSubcommand(name, command(name)));
            arguments = args;
        }
        // Set after the subcommands are added: picocli passes these settings only to those it has.
        commandLine.setOut(out).setErr(err).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler((e, cmd, parsed) -> {
                    if (e instanceof KilnException kiln) {
                        cmd.getErr().println("kiln: " + kiln.getMessage());
                        return ExitCodes.of(kiln.code());
                    }
                    throw e;
                });
        return commandLine.execute(arguments);
    }
}
