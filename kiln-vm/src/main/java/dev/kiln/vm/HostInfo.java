package dev.kiln.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalLong;

/** What this host offers: CPUs, memory and the TSC frequency a TCG guest needs to boot reliably. */
public record HostInfo(int cpus, long memoryMib, OptionalLong tscKhz) {

    public static HostInfo read() {
        return new HostInfo(Runtime.getRuntime().availableProcessors(), memTotalMib(), readTscKhz());
    }

    private static long memTotalMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("\\D+", "")) / 1024;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read /proc/meminfo", e);
        }
        throw new IllegalStateException("/proc/meminfo has no MemTotal");
    }

    private static OptionalLong readTscKhz() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("cpu MHz")) {
                    double mhz = Double.parseDouble(line.substring(line.indexOf(':') + 1).strip());
                    return OptionalLong.of(Math.round(mhz * 1000));
                }
            }
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
        return OptionalLong.empty();
    }
}
