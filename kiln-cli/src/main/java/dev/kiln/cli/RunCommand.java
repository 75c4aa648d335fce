package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.vm.GuestOutput;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.VmEngine;
import dev.kiln.vm.VmResult;
import dev.kiln.vm.VmSpec;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * `kiln run`: one command in a brand-new microVM, its output live, its exit code returned. Its usual
 * command line is read without picocli ({@link QuickParse}): picocli's model takes ~50 ms to build in
 * a fresh JVM, which the VM would wait for. Help and mistakes go through picocli, with the same flags.
 */
final class RunCommand implements Callable<Integer> {
    static final Flag CPUS = Flag.value("--cpus", "N", int.class, "vCPUs (default: 1)").initially(1);
    static final Flag MEMORY = Flag.value("--memory", "SIZE", long.class, "memory, e.g. 512m or 2g (default: 1g)")
            .convertedBy(new Converters.MebibyteSize()).initially(1024L);
    static final Flag DISK = Flag.value("--disk", "SIZE", int.class, "writable disk, e.g. 10g (default: 10g)")
            .convertedBy(new Converters.GibibyteSize()).initially(10);
    static final Flag TIMEOUT = Flag.value("--timeout", "DURATION", Duration.class,
            "deadline of the command, e.g. 90s or 10m (default: 10m)")
            .convertedBy(new Converters.Timeout()).initially(Duration.ofMinutes(10));
    static final Flag IMAGE = Flag.value("--image", "IMAGE", String.class, "image name or digest (default: default)")
            .initially("default");
    static final Flag ARCH = Flag.value("--arch", "ARCH", dev.kiln.core.Arch.class,
            "the guest's architecture, x86_64 or arm64 (emulated on an x86_64 host; default: this host's)")
            .convertedBy(new Converters.GuestArch());
    static final Flag ENV = Flag.repeatable(List.of("-e", "--env"), "KEY=VALUE",
            "for the command's environment (repeatable)");
    static final Flag NO_NETWORK = Flag.flag(List.of("--no-network"), "give the VM no network interface");
    static final Flag VERBOSE = Flag.flag(List.of("-v", "--verbose"), "print the VM's id and timings to stderr");
    static final Flag NO_WAIT = Flag.flag(List.of("--no-wait"),
            "fail (exit 121) rather than wait while this host's VMs leave no room for this one");

    private final OptionSet options = new OptionSet(CPUS, MEMORY, DISK, TIMEOUT, IMAGE, ARCH, ENV, NO_NETWORK, VERBOSE,
            NO_WAIT);

    final HostOptions host = new HostOptions();

    final ClientOptions server = new ClientOptions();

    private List<String> command;

    /**
     * Reads the arguments after `run` when they take the usual shapes; false leaves them to picocli (on a
     * new RunCommand: this one may hold some of them).
     */
    boolean parseQuickly(List<String> args) {
        Optional<List<String>> parsed = QuickParse.parse(args, optionSets());
        if (parsed.isEmpty()) {
            return false;
        }
        command = parsed.get();
        return true;
    }

    private List<OptionSet> optionSets() {
        return List.of(options, host.options(), server.options());
    }

    /** Every option's value and the command, in a fixed order: what a parser made of the arguments. */
    List<Object> parsed() {
        List<Object> parsed = new java.util.ArrayList<>();
        for (OptionSet set : optionSets()) {
            for (Flag flag : set.flags()) {
                parsed.add(flag.names().getLast() + "=" + set.get(flag));
            }
        }
        parsed.add(command);
        return parsed;
    }

    /** The model picocli parses with; Kiln adds the host's and the server's options from the fields. */
    CommandSpec model() {
        CommandSpec spec = CommandSpec.wrapWithoutInspection(this).name("run");
        spec.usageMessage().description("Runs a command in a fresh microVM and exits with its exit code.");
        for (OptionSpec option : options.mixin().options()) {
            spec.addOption(option);
        }
        return spec.addPositional(PositionalParamSpec.builder().type(List.class).auxiliaryTypes(String.class)
                .arity("1..*").required(true).paramLabel("CMD").description("the command and its arguments, after --")
                .hasInitialValue(false).setter(new CommandLine.Model.ISetter() {
                    @Override
                    @SuppressWarnings("unchecked")
                    public <T> T set(T value) {
                        List<String> old = command;
                        command = (List<String>) value;
                        return (T) old;
                    }
                }).build());
    }

    @Override
    public Integer call() {
        int cpus = options.get(CPUS);
        long memoryMib = options.get(MEMORY);
        int diskGib = options.get(DISK);
        Duration timeout = options.get(TIMEOUT);
        String image = options.get(IMAGE);
        dev.kiln.core.Arch arch = options.get(ARCH);
        Map<String, String> env = parseEnv(options.get(ENV));
        boolean verbose = options.get(VERBOSE);
        if (command.isEmpty() || command.getFirst().isBlank()) {
            // The guest would only find out after a boot, and say 127 ("not found") like a missing program.
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the command after -- is empty: name a program to run"
                    + " (for shell syntax: -- sh -c '…')");
        }
        if (server.configured()) {
            return RemoteRun.run(server.client(), new dev.kiln.api.JobRequest(command, env, image, null, cpus,
                    memoryMib, diskGib, arch == null ? null : arch.id(), timeout.toSeconds(), null, null, null), verbose,
                    new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true));
        }
        // Everything a user can get wrong is checked before the host is touched.
        // An image of another architecture than the one asked for is refused here, before the host is touched.
        ImageManifest manifest = host.images().resolve(image, arch == null ? VmEngine.hostArch() : arch);
        VmSpec spec = new VmSpec(VmEngine.newVmId(), manifest, cpus, memoryMib, diskGib, timeout, command, env,
                !options.<Boolean>get(NO_NETWORK));
        HostInfo hostInfo = HostInfo.read();
        VmEngine.checkFits(hostInfo, spec);
        VmEngine engine = host.engine(hostInfo);
        engine.recoverLeftovers();

        CountDownLatch finished = new CountDownLatch(1);
        Thread onInterrupt = new Thread(() -> {
            // Ctrl-C: stop the VM and wait for its cleanup before the JVM goes.
            engine.cancel(spec.vmId());
            try {
                finished.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "kiln-run-interrupt");
        Runtime.getRuntime().addShutdownHook(onInterrupt);
        if (verbose) {
            // Concatenated, not formatted: a fresh JVM's first String.format takes ~15 ms (locale data).
            long sinceLaunch = sinceLaunchMillis();
            if (sinceLaunch >= 0) {
                System.err.println("kiln: ready to make VM " + spec.vmId() + " " + sinceLaunch
                        + " ms after `kiln` started");
            }
        }
        VmResult result;
        try {
            result = engine.run(spec, new StandardStreams(verbose), !options.<Boolean>get(NO_WAIT));
        } finally {
            finished.countDown();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(onInterrupt);
        } catch (IllegalStateException shuttingDown) {
            // Ctrl-C: the JVM is going down and the hook has run; what follows reports the cancelled VM.
        }
        if (verbose) {
            var t = result.timings();
            System.err.printf("kiln: VM %s %s: resources %d ms, boot %d ms, command %d ms, cleanup %d ms%n",
                    spec.vmId(), result.outcome(), t.create().toMillis(), t.boot().toMillis(), t.run().toMillis(),
                    t.destroy().toMillis());
        }
        return switch (result.outcome()) {
            case EXITED -> result.exitCode().orElseThrow();
            case DEADLINE_EXCEEDED -> fail(ErrorCode.DEADLINE_EXCEEDED, result.detail()
                    + "; give it longer with --timeout");
            case BOOT_FAILED -> fail(ErrorCode.BOOT_FAILED, "VM " + spec.vmId() + " did not boot: " + result.detail()
                    + (result.detail().contains("on a busy host") ? "" : "; run `kiln doctor`"));
            case GUEST_CRASHED -> fail(ErrorCode.GUEST_CRASHED, "VM " + spec.vmId() + ": " + result.detail());
            case CANCELLED -> fail(ErrorCode.CANCELLED, "VM " + spec.vmId() + " stopped: " + result.detail());
        };
    }

    /**
     * Milliseconds since bin/kiln started, from its KILN_LAUNCHED_AT (bash's $EPOCHREALTIME), or -1.
     * Not the process's start time: Linux keeps that relative to a boot time it gives to the second only.
     */
    private static long sinceLaunchMillis() {
        String text = System.getenv("KILN_LAUNCHED_AT");
        int point = text == null ? -1 : Math.max(text.indexOf('.'), text.indexOf(','));
        if (point <= 0 || text.length() - point != 7) {
            return -1;
        }
        try {
            long micros = Long.parseLong(text.substring(0, point)) * 1_000_000 + Long.parseLong(text.substring(point + 1));
            return (java.time.Instant.now().toEpochMilli() * 1000 - micros) / 1000;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static int fail(ErrorCode code, String message) {
        throw new KilnException(code, message);
    }

    static Map<String, String> parseEnv(List<String> pairs) {
        Map<String, String> env = new LinkedHashMap<>();
        for (String pair : pairs) {
            int eq = pair.indexOf('=');
            if (eq <= 0) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                        "--env '%s' is not KEY=VALUE".formatted(pair.length() > 40 ? pair.substring(0, 40) + "…" : pair));
            }
            env.put(pair.substring(0, eq), pair.substring(eq + 1));
        }
        return env;
    }

    /** The guest's stdout and stderr onto ours, unbuffered, so output shows as it happens. */
    private static final class StandardStreams implements GuestOutput {
        private final OutputStream out = new FileOutputStream(FileDescriptor.out);
        private final OutputStream err = new FileOutputStream(FileDescriptor.err);
        private final boolean verbose;

        StandardStreams(boolean verbose) {
            this.verbose = verbose;
        }

        @Override
        public void phase(String name, java.time.Duration sinceStart, String guestUptime) {
            if (verbose) {
                // Where a boot's time goes: the host's clock, and the guest's (slow under emulation).
                System.err.println("kiln: guest phase " + name + " at " + sinceStart.toMillis()
                        + " ms after the VMM started (guest uptime " + guestUptime + " s)");
            }
        }

        @Override
        public void waiting(String message) {
            byte[] line = ("kiln: " + message + " (--no-wait fails instead)\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
            write(err, line, 0, line.length);
        }

        @Override
        public void stdout(byte[] bytes, int offset, int length) {
            write(out, bytes, offset, length);
        }

        @Override
        public void stderr(byte[] bytes, int offset, int length) {
            write(err, bytes, offset, length);
        }

        private static void write(OutputStream stream, byte[] bytes, int offset, int length) {
            try {
                stream.write(bytes, offset, length);
                stream.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write the command's output", e);
            }
        }
    }
}
