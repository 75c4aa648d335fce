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
    private final Path templatesDir;

    ScratchDisks(Path templatesDir) {
        this.templatesDir = templatesDir;
    }

    Path template(int sizeGib) {
        Path template = templatesDir.resolve("ext4-" + sizeGib + "g.img");
        if (Files.exists(template)) {
            return template;
        }
        try {
            Files.createDirectories(templatesDir);
            try (FileChannel lock = FileChannel.open(templatesDir.resolve(".lock"), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
                 FileLock ignored = lock.lock()) {
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
        }
        return template;
    }

    /**
     * Gives a VM its own overlay. Every overlay of one size is byte-for-byte the same empty qcow2
     * file pointing at the same backing file, so it is made once with qemu-img and copied after.
     */
    void createOverlay(Path disk, int sizeGib) {
        Path pristine = templatesDir.resolve("overlay-" + sizeGib + "g.qcow2");
        if (!Files.exists(pristine)) {
            Path template = template(sizeGib);
            Path temp = templatesDir.resolve(".overlay-" + sizeGib + "g." + ProcessHandle.current().pid() + ".tmp");
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
