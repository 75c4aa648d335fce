package dev.kiln.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A VM's resource journal: every host resource is recorded (and fsynced) before it is made, so a
 * Kiln killed at any point leaves a list the next start can undo. Undoing a resource that was never
 * made must therefore be harmless.
 */
final class Journal {
    enum Kind { SLOT, DISK, TAP, FIREWALL, CGROUP, PROCESS }

    record Entry(Kind kind, String value) {
        Entry {
            if (value.contains("\n")) {
                throw new IllegalArgumentException("journal values are single lines: " + value);
            }
        }
    }

    private final Path file;

    Journal(Path file) {
        this.file = file;
    }

    void record(Kind kind, String value) {
        byte[] line = (kind + " " + value + "\n").getBytes(StandardCharsets.UTF_8);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            channel.write(ByteBuffer.wrap(line));
            channel.force(false);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the VM journal " + file, e);
        }
    }

    /** Entries in the order they were recorded; a torn last line (crash mid-write) is skipped. */
    List<Entry> entries() {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return List.of();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the VM journal " + file, e);
        }
        List<Entry> entries = new ArrayList<>();
        for (String line : lines) {
            int space = line.indexOf(' ');
            if (space < 0) {
                continue;
            }
            try {
                entries.add(new Entry(Kind.valueOf(line.substring(0, space)), line.substring(space + 1)));
            } catch (IllegalArgumentException torn) {
                // only a crash mid-append produces an unknown kind; the resource was not made yet
            }
        }
        return entries;
    }
}
