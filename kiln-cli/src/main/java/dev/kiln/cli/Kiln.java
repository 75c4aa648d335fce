package dev.kiln.cli;

import dev.kiln.core.KilnException;
import dev.kiln.vm.EngineWarmup;
import picocli.CommandLine;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine.Command;

/** The `kiln` command. */
@Command(name = "kiln", mixinStandardHelpOptions = true, version = "kiln 0.1.0",
        description = "Runs every CI job in its own fresh microVM.")
public final class Kiln {
    /**
     * The subcommands, by name, in the order help lists them. Only the one named is made: picocli builds
     * a command's model by reflection, and building all of them would add ~0.1 s to every `kiln run`.
     */
    private static final Map<String, Supplier<Object>> COMMANDS = commands();

    private static Map<String, Supplier<Object>> commands() {
        Map<String, Supplier<Object>> commands = new LinkedHashMap<>();
        commands.put("run", RunCommand::new);
        commands.put("image", ImageCommand::new);
        commands.put("doctor", DoctorCommand::new);
        commands.put("server", ServerCommand::new);
        commands.put("agent", AgentCommand::new);
        commands.put("up", UpCommand::new);
        commands.put("hosts", HostsCommand::new);
        commands.put("jobs", JobsCommand::new);
        commands.put("job", JobCommand::new);
        commands.put("vms", VmsCommand::new);
        commands.put("logs", LogsCommand::new);
        commands.put("cancel", CancelCommand::new);
        commands.put("warmup", WarmupCommand::new);
        commands.put("github", GitHubCommand::new);
        commands.put("help", CommandLine.HelpCommand::new);
        return commands;
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
        CommandLine commandLine = new CommandLine(new Kiln());
        Supplier<Object> named = args.length > 0 && !args[0].equals("help") ? COMMANDS.get(args[0]) : null;
        if (named != null) {
            commandLine.addSubcommand(args[0], named.get());
        } else {
            COMMANDS.forEach((name, command) -> commandLine.addSubcommand(name, command.get()));
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
        return commandLine.execute(args);
    }
}
