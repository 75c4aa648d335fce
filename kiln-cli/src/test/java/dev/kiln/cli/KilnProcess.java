package dev.kiln.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * `kiln` in a process of its own, from this test's classpath, so that a test can kill it for real
 * (SIGKILL: no shutdown hook runs). Its output goes to a log file; the first line saying
 * {@code listening on} or {@code syncing with} marks it ready.
 */
final class KilnProcess implements AutoCloseable {
    private final Process process;
    private final BlockingQueue<String> ready = new ArrayBlockingQueue<>(1);
    private final List<String> lines = new ArrayList<>();

    private KilnProcess(String netns, List<String> args, Map<String, String> env, Path log) {
        // nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup hierarchies an agent needs.
        List<String> command = new ArrayList<>(netns == null ? List.of()
                : List.of("nsenter", "--net=/run/netns/" + netns, "--"));
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), "dev.kiln.cli.Kiln"));
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Thread.ofVirtual().start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8)); var out = java.nio.file.Files.newBufferedWriter(log,
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND)) {
                for (String line; (line = reader.readLine()) != null; ) {
                    out.write(line + "\n");
                    out.flush();
                    synchronized (lines) {
                        lines.add(line);
                    }
                    if (line.contains("listening on") || line.contains("syncing with")) {
                        ready.offer(line);
                    }
                }
            } catch (IOException ignored) {
                // The process died: that is what these tests do to it.
            }
            ready.offer("exited");
        });
    }

    /** Starts `kiln ARGS` and waits until it says it is ready; fails with its output if it dies first. */
    static KilnProcess start(List<String> args, Map<String, String> env, Path log) throws InterruptedException {
        return startIn(null, args, env, log);
    }

    /** The same, inside a network namespace (a host of its own); null: this process's namespace. */
    static KilnProcess startIn(String netns, List<String> args, Map<String, String> env, Path log)
            throws InterruptedException {
        KilnProcess kiln = new KilnProcess(netns, args, env, log);
        String line = kiln.ready.poll(120, TimeUnit.SECONDS);
        if (line == null || line.equals("exited")) {
            kiln.kill();
            throw new IllegalStateException("kiln " + args + " did not start: " + kiln.output());
        }
        return kiln;
    }

    String output() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    /** SIGKILL, and wait for it to be gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM (what a service manager sends), and wait for a clean exit. */
    int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException("kiln did not stop within 60 s of SIGTERM: " + output());
        }
        return process.exitValue();
    }

    static int freePort() {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
