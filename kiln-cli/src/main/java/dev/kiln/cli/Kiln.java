package dev.kiln.cli;

import dev.kiln.core.KilnException;
import dev.kiln.vm.EngineWarmup;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `kiln` command. */
@Command(name = "kiln", mixinStandardHelpOptions = true, version = "kiln 0.1.0",
        description = "Runs every CI job in its own fresh microVM.")
public final class Kiln {
    /**
     * The subcommands, by name, in the order help lists them. Lambdas, not constructor references: a
     * reference loads its class when the map is made, a lambda only when called, so `kiln run` loads
     * none of the others.
     */
    private static final Map<String, Supplier<Object>> COMMANDS = commands();

    private static Map<String, Supplier<Object>> commands() {
        Map<String, Supplier<Object>> commands = new LinkedHashMap<>();
        commands.put("run", () -> new RunCommand());
        commands.put("image", () -> new ImageCommand());
        commands.put("doctor", () -> new DoctorCommand());
        commands.put("server", () -> new ServerCommand());
        commands.put("agent", () -> new AgentCommand());
        commands.put("up", () -> new UpCommand());
        commands.put("hosts", () -> new HostsCommand());
        commands.put("jobs", () -> new JobsCommand());
        commands.put("job", () -> new JobCommand());
        commands.put("vms", () -> new VmsCommand());
        commands.put("logs", () -> new LogsCommand());
        commands.put("cancel", () -> new CancelCommand());
        commands.put("warmup", () -> new WarmupCommand());
        commands.put("github", () -> new GitHubCommand());
        commands.put("help", () -> new CommandLine.HelpCommand());
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
        Supplier<Object> named = args.length > 0 && !args[0].equals("help") ? COMMANDS.get(args[0]) : null;
        CommandLine commandLine;
        String[] arguments;
        if (named != null) {
            // Only the subcommand named is built, as a command line of its own: picocli builds each
            // command's model by reflection, and `kiln run` would wait ~0.1 s for all of them.
            commandLine = new CommandLine(named.get()).setCommandName("kiln " + args[0]);
            arguments = Arrays.copyOfRange(args, 1, args.length);
        } else {
            commandLine = new CommandLine(new Kiln());
            COMMANDS.forEach((name, command) -> commandLine.addSubcommand(name, command.get()));
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
