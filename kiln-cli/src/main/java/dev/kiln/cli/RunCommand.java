package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.vm.GuestOutput;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.ImageManifest;
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
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * `kiln run`: one command in a brand-new microVM, its output live, its exit code returned. Its model
 * is built in code, not read from annotations: a fresh JVM takes ~40 ms to read its first annotations
 * (see {@link SharedOptions}), and every `kiln run` would wait for them.
 */
final class RunCommand implements Callable<Integer> {
    private final OptionSpec cpus = OptionSpec.builder("--cpus").type(int.class).initialValue(1).paramLabel("N")
            .description("vCPUs (default: 1)").build();

    private final OptionSpec memoryMib = OptionSpec.builder("--memory").type(long.class).initialValue(1024L)
            .converters(new Converters.MebibyteSize()).paramLabel("SIZE")
            .description("memory, e.g. 512m or 2g (default: 1g)").build();

    private final OptionSpec diskGib = OptionSpec.builder("--disk").type(int.class).initialValue(10)
            .converters(new Converters.GibibyteSize()).paramLabel("SIZE")
            .description("writable disk, e.g. 10g (default: 10g)").build();

    private final OptionSpec timeout = OptionSpec.builder("--timeout").type(Duration.class)
            .initialValue(Duration.ofMinutes(10)).converters(new Converters.Timeout()).paramLabel("DURATION")
            .description("deadline of the command, e.g. 90s or 10m (default: 10m)").build();

    private final OptionSpec image = OptionSpec.builder("--image").type(String.class).initialValue("default")
            .paramLabel("IMAGE").description("image name or digest (default: default)").build();

    private final OptionSpec env = OptionSpec.builder("-e", "--env").type(List.class).auxiliaryTypes(String.class)
            .paramLabel("KEY=VALUE").description("for the command's environment (repeatable)").build();

    private final OptionSpec noNetwork = OptionSpec.builder("--no-network").type(boolean.class).initialValue(false)
            .description("give the VM no network interface").build();

    private final OptionSpec verbose = OptionSpec.builder("-v", "--verbose").type(boolean.class).initialValue(false)
            .description("print the VM's id and timings to stderr").build();

    private final PositionalParamSpec command = PositionalParamSpec.builder().type(List.class)
            .auxiliaryTypes(String.class).arity("1..*").required(true).paramLabel("CMD")
            .description("the command and its arguments, after --").build();

    final HostOptions host = new HostOptions();

    final ClientOptions server = new ClientOptions();

    /** The model picocli parses with; {@link SharedOptions#complete} adds the host's and the server's options. */
    CommandSpec model() {
        CommandSpec spec = CommandSpec.wrapWithoutInspection(this).name("run");
        spec.usageMessage().description("Runs a command in a fresh microVM and exits with its exit code.");
        for (OptionSpec option : List.of(cpus, memoryMib, diskGib, timeout, image, env, noNetwork, verbose)) {
            spec.addOption(option);
        }
        return spec.addPositional(command);
    }

    @Override
    public Integer call() {
        int cpus = this.cpus.getValue();
        long memoryMib = this.memoryMib.getValue();
        int diskGib = this.diskGib.getValue();
        Duration timeout = this.timeout.getValue();
        String image = this.image.getValue();
        Map<String, String> env = parseEnv(this.env.getValue() == null ? List.of() : this.env.getValue());
        List<String> command = this.command.getValue();
        boolean verbose = this.verbose.getValue();
        if (server.configured()) {
            return RemoteRun.run(server.client(), new dev.kiln.api.JobRequest(command, env, image, null, cpus,
                    memoryMib, diskGib, null, timeout.toSeconds(), null, null, null), verbose,
                    new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true));
        }
        // Everything a user can get wrong is checked before the host is touched.
        ImageManifest manifest = host.images().resolve(image);
        VmSpec spec = new VmSpec(VmEngine.newVmId(), manifest, cpus, memoryMib, diskGib, timeout, command, env,
                !noNetwork.<Boolean>getValue());
        VmEngine.checkFits(HostInfo.read(), spec);
        VmEngine engine = host.engine();
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
            launchedAt().ifPresent(start -> System.err.printf("kiln: ready to make VM %s %d ms after `kiln` started%n",
                    spec.vmId(), java.time.Duration.between(start, java.time.Instant.now()).toMillis()));
        }
        VmResult result;
        try {
            result = engine.run(spec, new StandardStreams());
        } finally {
            finished.countDown();
        }
        Runtime.getRuntime().removeShutdownHook(onInterrupt);
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
                    + "; run `kiln doctor`");
            case GUEST_CRASHED -> fail(ErrorCode.GUEST_CRASHED, "VM " + spec.vmId() + ": " + result.detail());
            case CANCELLED -> fail(ErrorCode.CANCELLED, "VM " + spec.vmId() + " stopped: " + result.detail());
        };
    }

    /**
     * When bin/kiln started, from its KILN_LAUNCHED_AT (bash's $EPOCHREALTIME). Not the process's start
     * time: Linux keeps that relative to a boot time it gives to the second only.
     */
    private static java.util.Optional<java.time.Instant> launchedAt() {
        String text = System.getenv("KILN_LAUNCHED_AT");
        if (text == null || !text.matches("\\d+[.,]\\d{6}")) {
            return java.util.Optional.empty();
        }
        String[] parts = text.split("[.,]");
        return java.util.Optional.of(java.time.Instant.ofEpochSecond(Long.parseLong(parts[0]), Long.parseLong(parts[1]) * 1000));
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
