package dev.kiln.vm;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A cgroup per VM with its CPU and memory limits: cgroup v2 (cpu.max, memory.max) where the host's
 * unified hierarchy has those controllers, otherwise the v1 cpu and memory hierarchies
 * (cpu.cfs_quota_us, memory.limit_in_bytes), as on hybrid hosts.
 */
final class Cgroups {
    static final String PARENT = "kiln";
    private static final long CFS_PERIOD_US = 100_000;
    /**
     * CPU time beyond the vCPUs for the VMM's own threads (device emulation, I/O, and under TCG the
     * main loop): with a quota of exactly the vCPUs, a 1-vCPU TCG boot took 8.0 s instead of 7.1 s.
     */
    private static final long VMM_HEADROOM_US = CFS_PERIOD_US / 2;

    enum Version { V1, V2 }

    private final Version version;
    /** v2: the unified root; v1: the cpu and memory hierarchy roots. */
    private final List<Path> roots;

    private Cgroups(Version version, List<Path> roots) {
        this.version = version;
        this.roots = List.copyOf(roots);
    }

    static Cgroups detect() {
        return detect(Path.of("/proc/self/mounts"));
    }

    static Cgroups detect(Path mounts) {
        List<String> lines;
        try {
            lines = Files.readAllLines(mounts);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + mounts, e);
        }
        Path unified = null;
        Path cpu = null;
        Path memory = null;
        for (String line : lines) {
            String[] fields = line.split(" ");
            if (fields.length < 4) {
                continue;
            }
            List<String> options = List.of(fields[3].split(","));
            if (fields[2].equals("cgroup2")) {
                unified = Path.of(fields[1]);
            } else if (fields[2].equals("cgroup")) {
                if (options.contains("cpu")) {
                    cpu = Path.of(fields[1]);
                }
                if (options.contains("memory")) {
                    memory = Path.of(fields[1]);
                }
            }
        }
        if (unified != null && controllers(unified).containsAll(List.of("cpu", "memory"))) {
            return new Cgroups(Version.V2, List.of(unified));
        }
        if (cpu != null && memory != null) {
            return new Cgroups(Version.V1, List.of(cpu, memory));
        }
        throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING,
                "neither cgroup v2 with the cpu and memory controllers nor the v1 cpu and memory hierarchies are"
                        + " mounted; mount one (see `kiln doctor`)");
    }

    private static List<String> controllers(Path unified) {
        try {
            return List.of(Files.readString(unified.resolve("cgroup.controllers")).strip().split("\\s+"));
        } catch (IOException e) {
            return List.of();
        }
    }

    Version version() {
        return version;
    }

    /** The VM's cgroup directories, one per hierarchy. */
    List<Path> paths(String vmId) {
        return roots.stream().map(root -> root.resolve(PARENT).resolve(vmId)).toList();
    }

    void create(String vmId, int cpus, long memoryLimitBytes) {
        try {
            if (version == Version.V2) {
                Path root = roots.getFirst();
                enableControllers(root);
                Files.createDirectories(root.resolve(PARENT));
                enableControllers(root.resolve(PARENT));
                Path group = root.resolve(PARENT).resolve(vmId);
                Files.createDirectories(group);
                write(group.resolve("cpu.max"), quotaMicros(cpus) + " " + CFS_PERIOD_US);
                write(group.resolve("memory.max"), Long.toString(memoryLimitBytes));
                write(group.resolve("memory.swap.max"), "0");
            } else {
                Path cpu = roots.get(0).resolve(PARENT).resolve(vmId);
                Path memory = roots.get(1).resolve(PARENT).resolve(vmId);
                Files.createDirectories(cpu);
                Files.createDirectories(memory);
                write(cpu.resolve("cpu.cfs_period_us"), Long.toString(CFS_PERIOD_US));
                write(cpu.resolve("cpu.cfs_quota_us"), Long.toString(quotaMicros(cpus)));
                write(memory.resolve("memory.limit_in_bytes"), Long.toString(memoryLimitBytes));
            }
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_COMMAND_FAILED,
                    "cannot create the cgroup of VM %s (%s): %s".formatted(vmId, version, e.getMessage()), e);
        }
    }

    static long quotaMicros(int cpus) {
        return cpus * CFS_PERIOD_US + VMM_HEADROOM_US;
    }

    private static void enableControllers(Path group) throws IOException {
        String enabled = Files.readString(group.resolve("cgroup.subtree_control"));
        if (!enabled.contains("cpu") || !enabled.contains("memory")) {
            write(group.resolve("cgroup.subtree_control"), "+cpu +memory");
        }
    }

    /** The shell words that move the calling shell into the VM's cgroups before it execs the VMM. */
    String joinScript(String vmId) {
        StringBuilder script = new StringBuilder();
        for (Path group : paths(vmId)) {
            script.append("echo $$ > '").append(group.resolve("cgroup.procs")).append("' && ");
        }
        return script.toString();
    }

    /** Kills every process left in the VM's cgroups and removes them; missing groups are fine. */
    void destroy(String vmId) {
        for (Path group : paths(vmId)) {
            for (int attempt = 0; Files.isDirectory(group); attempt++) {
                List<Long> pids = processes(group);
                pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
                try {
                    Files.deleteIfExists(group);
                } catch (IOException busy) {
                    if (attempt > 500) {
                        throw new KilnException(ErrorCode.HOST_COMMAND_FAILED,
                                "cgroup %s still holds processes %s after 5 s".formatted(group, processes(group)));
                    }
                    sleepBriefly();
                }
            }
        }
    }

    boolean exists(String vmId) {
        return paths(vmId).stream().anyMatch(Files::isDirectory);
    }

    static List<Long> processes(Path group) {
        try {
            List<Long> pids = new ArrayList<>();
            for (String line : Files.readAllLines(group.resolve("cgroup.procs"))) {
                if (!line.isBlank()) {
                    pids.add(Long.parseLong(line.strip()));
                }
            }
            return pids;
        } catch (NoSuchFileException gone) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Optional<Long> memoryUsageBytes(String vmId) {
        Path file = version == Version.V2
                ? paths(vmId).getFirst().resolve("memory.current")
                : paths(vmId).get(1).resolve("memory.usage_in_bytes");
        try {
            return Optional.of(Long.parseLong(Files.readString(file).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static void write(Path file, String value) throws IOException {
        Files.writeString(file, value, StandardCharsets.US_ASCII);
    }

    private static void sleepBriefly() {
        try {
            Thread.sleep(10);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted while removing a cgroup", e);
        }
    }
}
