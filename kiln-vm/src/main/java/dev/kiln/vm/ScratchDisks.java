package dev.kiln.vm;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Per-VM writable disks. Each VM gets a qcow2 overlay whose backing file is an empty ext4 file
 * system of the asked size, made once per size and shared read-only: creating a VM's disk writes a
 * few hundred KiB, never a copy. The guest puts its root overlay and Docker's data there.
 */
final class ScratchDisks {
    /** `kiln run`'s default size, whose template stays (and which bench/vm's bare command boots from). */
    static final int KEPT_SIZE_GIB = 10;
    private static final java.util.regex.Pattern TEMPLATE =
            java.util.regex.Pattern.compile("(?:ext4-|overlay-)(\\d+)g\\.(?:img|qcow2)");

    /** Threads of one JVM queue here: their file locks would overlap (and throw) rather than wait. */
    private static final java.util.concurrent.locks.ReentrantLock IN_THIS_PROCESS =
            new java.util.concurrent.locks.ReentrantLock();

    private final Path templatesDir;

    ScratchDisks(Path templatesDir) {
        this.templatesDir = templatesDir;
    }

    Path template(int sizeGib) {
        Path template = templatesDir.resolve("ext4-" + sizeGib + "g.img");
        if (Files.exists(template)) {
            return template;
        }
        IN_THIS_PROCESS.lock();
        try {
            Files.createDirectories(templatesDir);
            try (FileChannel lock = FileChannel.open(templatesDir.resolve(".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
                 FileLock ignored = FileLocks.lock(lock)) {
                if (Files.exists(template)) {
                    return template;
                }
                Path temp = templatesDir.resolve(".ext4-" + sizeGib + "g.tmp");
                try (RandomAccessFile file = new RandomAccessFile(temp.toFile(), "rw")) {
                    file.setLength((long) sizeGib << 30);
                }
                HostCommand.run(List.of("mkfs.ext4", "-q", "-F", "-m", "0", "-L", "kiln-scratch",
                        "-E", "lazy_itable_init=1,lazy_journal_init=1", temp.toString()));
                Files.move(temp, template, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot make the scratch template " + template, e);
        } finally {
            IN_THIS_PROCESS.unlock();
        }
        return template;
    }

    /**
     * Removes the templates (and their pristine overlays) of every size but the kept one and those in use.
     * A VM's overlay names its template as backing file, so the caller makes sure no VM of a pruned size
     * is being made or runs: it holds the host ledger's lock, under which every VM is admitted.
     */
    void prune(java.util.Collection<Integer> sizesInUse) {
        if (!Files.isDirectory(templatesDir)) {
            return;
        }
        IN_THIS_PROCESS.lock();
        try (FileChannel lock = FileChannel.open(templatesDir.resolve(".lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
             FileLock ignored = FileLocks.lock(lock);
             var files = Files.list(templatesDir)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                var name = TEMPLATE.matcher(file.getFileName().toString());
                if (name.matches()) {
                    int size = Integer.parseInt(name.group(1));
                    if (size != KEPT_SIZE_GIB && !sizesInUse.contains(size)) {
                        Files.deleteIfExists(file);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prune the scratch templates in " + templatesDir, e);
        } finally {
            IN_THIS_PROCESS.unlock();
        }
    }

    /**
     * Gives a VM its own overlay. Every overlay of one size is byte-for-byte the same empty qcow2
     * file pointing at the same backing file, so it is made once with qemu-img and copied after.
     */
    void createOverlay(Path disk, int sizeGib) {
        Path pristine = templatesDir.resolve("overlay-" + sizeGib + "g.qcow2");
        if (!Files.exists(pristine)) {
            Path template = template(sizeGib);
            // Named by process and thread: two VMs of a new size in one process (an agent's) made it at once
            // under one name, and qemu-img failed on the other's lock.
            Path temp = templatesDir.resolve(".overlay-" + sizeGib + "g." + ProcessHandle.current().pid() + "."
                    + Thread.currentThread().threadId() + ".tmp");
            HostCommand.run(List.of("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", template.toString(),
                    temp.toString()));
            try {
                Files.move(temp, pristine, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot store " + pristine, e);
            }
        }
        try {
            Files.copy(pristine, disk);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the disk " + disk, e);
        }
    }
}
