package dev.kiln.cli;

import dev.kiln.core.KilnException;
import dev.kiln.vm.EngineWarmup;
import java.util.Arrays;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The `kiln` command. */
@Command(name = "kiln", version = Kiln.VERSION,
        description = "Runs every CI job in its own fresh microVM.")
public final class Kiln {
    static final String VERSION = "kiln 0.1.0";

    /**
     * The subcommands, in the order help lists them. Constants with bodies rather than a map of lambdas:
     * only the command named is loaded, and no lambda is linked before the arguments are parsed (the
     * first one a JVM links costs ~10 ms, to start java.lang.invoke; the engine's warm-up pays it on the
     * other core).
     */
    private enum Subcommand {
        RUN { Object create() { return new RunCommand().model(); } },
        IMAGE { Object create() { return new ImageCommand(); } },
        DOCTOR { Object create() { return new DoctorCommand(); } },
        SERVER { Object create() { return new ServerCommand(); } },
        AGENT { Object create() { return new AgentCommand(); } },
        UP { Object create() { return new UpCommand(); } },
        HOSTS { Object create() { return new HostsCommand(); } },
        VIEWER_TOKENS {
            Object create() { return new ViewerTokensCommand(); }

            @Override
            String commandName() { return "viewer-tokens"; }
        },
        JOBS { Object create() { return new JobsCommand(); } },
        JOB { Object create() { return new JobCommand(); } },
        SSH { Object create() { return new SshCommand(); } },
        VMS { Object create() { return new VmsCommand(); } },
        LOGS { Object create() { return new LogsCommand(); } },
        CANCEL { Object create() { return new CancelCommand(); } },
        WARMUP { Object create() { return new WarmupCommand(); } },
        GITHUB { Object create() { return new GitHubCommand(); } },
        INSTALL { Object create() { return new InstallCommand(); } },
        UNINSTALL { Object create() { return new UninstallCommand(); } },
        HELP { Object create() { return new CommandLine.HelpCommand(); } };

        /** The command's user object, or its model when it is built in code. */
        abstract Object create();

        String commandName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** "; did you mean 'run'?" for a name a typo or two away from a command's, else nothing. */
        static String suggestion(String name) {
            for (Subcommand command : values()) {
                if (command != WARMUP && dev.kiln.core.Spelling.distance(name, command.commandName()) <= 2) {
                    return "; did you mean '" + command.commandName() + "'?";
                }
            }
            return "";
        }

        static Subcommand named(String name) {
            for (Subcommand command : values()) {
                if (command.commandName().equals(name)) {
                    return command;
                }
            }
            return null;
        }
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("run")) {
            // The way to the VM is ~0.1 s of code a fresh JVM runs for the first time, on one core: the
            // engine warms up on the other (the JSON, locale data for formatting, its classes).
            EngineWarmup.start();
        }
        System.exit(execute(args));
    }

    /**
     * One subcommand, as a command line of its own. Only it is built: picocli builds each command's model
     * by reflection, and `kiln run` would wait ~0.1 s for all of them.
     */
    static CommandLine subcommand(String name) {
        CommandLine commandLine = new CommandLine(Subcommand.named(name).create())
                .setCommandName("kiln ".concat(name));
        complete(commandLine);
        return commandLine;
    }

    /**
     * Finishes the model of a command and its subcommands: the shared options each holds, and --help
     * and --version on each (picocli gives a subcommand only what it declares).
     */
    private static void complete(CommandLine line) {
        CommandSpec spec = line.getCommandSpec();
        Object command = line.getCommand();
        if (command != null && !(command instanceof CommandSpec)) {
            SharedOptions.addFromFields(command, spec);
        }
        // Not picocli's mixinStandardHelpOptions: it reads them from annotations (see SharedOptions).
        if (spec.findOption("--help") == null) {
            spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                    .description("Show this help message and exit.").build());
            spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
                    .description("Print version information and exit.").build());
            spec.version(VERSION);
        }
        for (CommandLine subcommand : line.getSubcommands().values()) {
            complete(subcommand);
        }
    }

    static int execute(String... args) {
        return execute(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    static int execute(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        if (args.length > 0 && args[0].equals("run")) {
            RunCommand run = new RunCommand();
            if (run.parseQuickly(Arrays.asList(args).subList(1, args.length))) {
                try {
                    return run.call();
                } catch (KilnException e) {
                    return failed(e, err);
                } finally {
                    out.flush();
                    err.flush();
                }
            }
        }
        if (args.length > 0 && !args[0].startsWith("-") && Subcommand.named(args[0]) == null) {
            // Else picocli takes `kiln deploy --help` for the root's help and exits 0.
            err.println("kiln: unknown command '" + args[0] + "'" + Subcommand.suggestion(args[0])
                    + "; `kiln --help` lists the commands");
            err.flush();
            return ExitCodes.USAGE;
        }
        boolean named = args.length > 0 && !args[0].equals("help") && Subcommand.named(args[0]) != null;
        CommandLine commandLine;
        String[] arguments;
        if (named) {
            commandLine = subcommand(args[0]);
            arguments = Arrays.copyOfRange(args, 1, args.length);
        } else {
            commandLine = new CommandLine(new Kiln());
            for (Subcommand command : Subcommand.values()) {
                commandLine.addSubcommand(command.commandName(), command.create());
            }
            complete(commandLine);
            arguments = args;
        }
        // Set after the subcommands are added: picocli passes these settings only to those it has.
        commandLine.setOut(out).setErr(err).setCaseInsensitiveEnumValuesAllowed(true)
                .setExecutionExceptionHandler(new CommandLine.IExecutionExceptionHandler() {
                    @Override
                    public int handleExecutionException(Exception e, CommandLine cmd, CommandLine.ParseResult parsed)
                            throws Exception {
                        if (e instanceof KilnException kiln) {
                            return failed(kiln, cmd.getErr());
                        }
                        throw e;
                    }
                });
        return commandLine.execute(arguments);
    }

    /** Kiln's own failures: the message, which says what to do, and the exit code for its kind. */
    private static int failed(KilnException e, java.io.PrintWriter err) {
        err.println("kiln: " + e.getMessage());
        return ExitCodes.of(e.code());
    }
}
