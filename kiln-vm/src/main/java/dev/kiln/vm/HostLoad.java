package dev.kiln.vm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Whether the host is busy: more runnable work than CPUs, by the kernel's one-minute load average. */
final class HostLoad {
    private static final Path LOADAVG = Path.of("/proc/loadavg");

    private HostLoad() {}

    /** Null when the host is not busy; otherwise its load, as a user would want it said. */
    static String busy(int cpus) {
        try {
            return busy(Files.readString(LOADAVG), cpus);
        } catch (IOException unreadable) {
            return null; // no verdict: the boot deadline stands
        }
    }

    /** The verdict on a {@code /proc/loadavg} line: null when the host is not busy or the line is not one. */
    static String busy(String loadavg, int cpus) {
        try {
            double load = Double.parseDouble(loadavg.strip().split(" ")[0]);
            return load > cpus ? "load %.1f on %d CPUs".formatted(load, cpus) : null;
        } catch (RuntimeException unreadable) {
            return null;
        }
    }
}
