package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Keeps the whole console of a guest that crashed (a kernel panic ends the VMM like a power-off), since the
 * VM's directory goes with the VM and a result's detail holds only the last lines, which rarely show the
 * cause. Readable by root alone: the console carries the command's output. The newest {@link #KEPT} stay.
 */
final class CrashConsoles {
    static final int KEPT = 20;

    private final Path dir;

    CrashConsoles(Path dir) {
        this.dir = requireNonNull(dir, "dir is null");
    }

    /** Copies the console of the VM; returns where it is kept. */
    Path keep(String vmId, Path console) {
        try {
            Files.createDirectories(dir);
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            Path kept = dir.resolve(vmId + ".console.log");
            Path partial = dir.resolve(vmId + ".console.log.partial");
            Files.copy(console, partial, StandardCopyOption.REPLACE_EXISTING);
            Files.setPosixFilePermissions(partial, PosixFilePermissions.fromString("rw-------"));
            Files.move(partial, kept, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            prune();
            return kept;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot keep the console of crashed VM " + vmId + " in " + dir
                    + ": " + e.getMessage(), e);
        }
    }

    private void prune() throws IOException {
        List<Path> kept;
        try (Stream<Path> files = Files.list(dir)) {
            kept = files.filter(f -> f.getFileName().toString().endsWith(".console.log"))
                    .sorted(Comparator.comparing(CrashConsoles::modified).reversed()).toList();
        }
        for (Path old : kept.subList(Math.min(KEPT, kept.size()), kept.size())) {
            Files.deleteIfExists(old);
        }
    }

    private static FileTime modified(Path file) {
        try {
            return Files.getLastModifiedTime(file);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }
}
