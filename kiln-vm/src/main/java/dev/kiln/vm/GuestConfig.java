package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What the guest learns from its config drive. Secrets (the job's environment) travel only here,
 * never on the kernel command line, which any process in the guest can read.
 */
public record GuestConfig(
        String vmId,
        String hostname,
        String nonce,
        Network network,
        List<String> command,
        Map<String, String> env,
        long deadlineSeconds,
        String runnerJitConfig,
        GuestSsh ssh) {

    /** Where the image keeps the GitHub runner; `kiln image build --runner-tarball` installs it there. */
    static final String RUNNER_HOME = "/home/runner/actions-runner";

    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final Pattern HOSTNAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

    /** Null network: the guest has no interface but loopback. */
    public record Network(String guestAddress, int prefix, String gateway, List<String> dns) {
        public Network {
            requireNonNull(guestAddress, "guestAddress is null");
            requireNonNull(gateway, "gateway is null");
            dns = List.copyOf(dns);
        }
    }

    public GuestConfig(String vmId, String hostname, String nonce, Network network, List<String> command,
            Map<String, String> env, long deadlineSeconds) {
        this(vmId, hostname, nonce, network, command, env, deadlineSeconds, null, null);
    }

    /** A guest without a debugging shell. */
    public GuestConfig(String vmId, String hostname, String nonce, Network network, List<String> command,
            Map<String, String> env, long deadlineSeconds, String runnerJitConfig) {
        this(vmId, hostname, nonce, network, command, env, deadlineSeconds, runnerJitConfig, null);
    }

    public GuestConfig {
        requireNonNull(vmId, "vmId is null");
        requireNonNull(nonce, "nonce is null");
        command = List.copyOf(command);
        env = Map.copyOf(env);
        if (!HOSTNAME.matcher(hostname).matches()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                    "hostname '%s' is not a DNS label (lower-case letters, digits and '-', at most 63)".formatted(hostname));
        }
        if (command.isEmpty() && runnerJitConfig == null) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "no command to run: give one after `--`");
        }
        checkEnvNames(env.keySet());
        // A program receives its arguments and environment as C strings: a NUL would cut them short.
        if (command.stream().anyMatch(word -> word.indexOf('\0') >= 0)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the command has an argument with a NUL byte, which no program can receive");
        }
        env.forEach((name, value) -> {
            if (value.indexOf('\0') >= 0) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                        "environment variable %s has a NUL byte, which no program can receive".formatted(name));
            }
        });
    }

    static void checkEnvNames(java.util.Collection<String> names) {
        for (String name : names) {
            if (!ENV_NAME.matcher(name).matches()) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                        "environment variable name '%s' is invalid: use letters, digits and '_'".formatted(name));
            }
        }
    }

    /** The settings as shell assignments, for guest inits that have no JSON parser. */
    String shellEnv() {
        StringBuilder out = new StringBuilder();
        assign(out, "KILN_VM_ID", vmId);
        assign(out, "KILN_HOSTNAME", hostname);
        assign(out, "KILN_NONCE", nonce);
        assign(out, "KILN_DEADLINE_SECONDS", Long.toString(deadlineSeconds));
        if (network != null) {
            assign(out, "KILN_GUEST_IP", network.guestAddress());
            assign(out, "KILN_PREFIX", Integer.toString(network.prefix()));
            assign(out, "KILN_GATEWAY", network.gateway());
            assign(out, "KILN_DNS", String.join(" ", network.dns()));
        } else {
            assign(out, "KILN_GUEST_IP", "");
        }
        return out.toString();
    }

    String jobEnv() {
        StringBuilder out = new StringBuilder();
        new TreeMap<>(env).forEach((name, value) -> assign(out, name, value));
        return out.toString();
    }

    /**
     * The command, exec'd with its arguments exactly as given (no shell re-parsing); for a runner VM,
     * the image's runner for its credential, which the guest init copied where only `runner` reads it.
     */
    String commandScript() {
        if (runnerJitConfig != null) {
            return RunnerStart.commandScript(runnerJitConfig);
        }
        StringBuilder script = new StringBuilder("#!/bin/sh\nexec");
        for (String word : command) {
            script.append(' ').append(shellQuote(word));
        }
        return script.append('\n').toString();
    }

    /**
     * The command's words, each ended by a NUL, for a guest init that execs them itself (no shell started for a
     * command that needs none); null for a runner VM, whose start is the script.
     */
    byte[] commandArgv() {
        if (runnerJitConfig != null) {
            return null;
        }
        ByteArrayOutputStream argv = new ByteArrayOutputStream();
        for (String word : command) {
            argv.writeBytes(word.getBytes(StandardCharsets.UTF_8));
            argv.write(0);
        }
        return argv.toByteArray();
    }

    private static void assign(StringBuilder out, String name, String value) {
        out.append(name).append('=').append(shellQuote(value)).append('\n');
    }

    static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }

    @Override
    public String toString() {
        // The environment may hold secrets: never print it.
        return "GuestConfig[vmId=%s, hostname=%s, network=%s, %s, env=%d variables, deadline=%ds%s]"
                .formatted(vmId, hostname, network, runnerJitConfig != null ? "runner" : "command=" + command,
                        env.size(), deadlineSeconds, ssh == null ? "" : ", ssh " + ssh.hostKey().publicKey());
    }
}
