package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;

/**
 * What the VMs of every Kiln process on this host hold (vCPUs, memory, disk), kept in files so that
 * `kiln run`s side by side and a local agent see each other's VMs. One file per VM, locked by its
 * owner for the VM's life: an entry whose lock is free belongs to a process that died (`kill -9`) and
 * is dropped by the next reader. Entries are read and made only under the ledger's own lock, so no
 * reader ever sees an entry before its owner locked it.
 */
final class HostLedger {
    private static final String LOCK = ".lock";
    /** Processes are kept apart by the file lock; threads of one JVM (whose file locks would overlap) here. */
    private static final ReentrantLock IN_THIS_PROCESS = new ReentrantLock();
    /**
     * The claims this process holds, read from here rather than their files: closing any descriptor of
     * a file gives back every POSIX lock the process holds on it, so opening our own entries to read
     * them would unlock them for the other processes.
     */
    private static final java.util.Map<Path, Claim> OURS = new java.util.concurrent.ConcurrentHashMap<>();

    /** A VM's claim; {@code disk} is its scratch disk, whose growth uses up the claim's disk bytes. */
    record Claim(String vmId, int cpus, long memoryMib, int diskGib, Path disk) {
        Claim {
            requireNonNull(vmId, "vmId is null");
            requireNonNull(disk, "disk is null");
        }

        /** Disk bytes the VM may still write: its size less what its disk already holds. */
        long diskBytesToCome() {
            try {
                return Math.max(0, ((long) diskGib << 30) - Files.size(disk));
            } catch (IOException notYet) {
                return (long) diskGib << 30;
            }
        }

        String line() {
            return cpus + " " + memoryMib + " " + diskGib + " " + disk;
        }

        static Optional<Claim> parse(String vmId, String line) {
            String[] fields = line.strip().split(" ", 4);
            if (fields.length < 4) {
                return Optional.empty(); // an owner killed while writing it: its lock is free, it goes next
            }
            try {
                return Optional.of(new Claim(vmId, Integer.parseInt(fields[0]), Long.parseLong(fields[1]),
                        Integer.parseInt(fields[2]), Path.of(fields[3])));
            } catch (NumberFormatException e) {
                return Optional.empty();
            }
        }
    }

    /** A claim written to the ledger; closing it gives the room back. */
    static final class Reservation implements AutoCloseable {
        private final Path file;
        private final FileChannel channel;

        private Reservation(Path file, FileChannel channel) {
            this.file = file;
            this.channel = channel;
        }

        @Override
        public void close() {
            OURS.remove(file);
            try {
                // Removed while still locked: a reader that opened it meanwhile finds it gone or locked.
                Files.deleteIfExists(file);
                channel.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot give back the ledger entry " + file, e);
            }
        }
    }

    private final Path dir;

    HostLedger(Path dir) {
        this.dir = requireNonNull(dir, "dir is null");
    }

    /**
     * Under the ledger's lock: the live claims (the dead dropped) are given to {@code decide}; when it
     * answers true, {@code claim} is written and locked before the ledger's lock is given back.
     */
    Optional<Reservation> reserveIf(Claim claim, Function<List<Claim>, Boolean> decide) {
        return locked(live -> {
            if (!decide.apply(live)) {
                return Optional.empty();
            }
            Path file = dir.resolve(claim.vmId());
            FileChannel channel = null;
            try {
                channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                FileLocks.lock(channel);
                channel.write(ByteBuffer.wrap((claim.line() + "\n").getBytes(StandardCharsets.UTF_8)));
                OURS.put(file, claim);
                return Optional.of(new Reservation(file, channel));
            } catch (IOException e) {
                if (channel != null) {
                    try {
                        channel.close();
                        Files.deleteIfExists(file);
                    } catch (IOException suppressed) {
                        e.addSuppressed(suppressed);
                    }
                }
                throw new UncheckedIOException("cannot write the ledger entry " + file, e);
            }
        });
    }

    /** Runs {@code action} on the live claims under the ledger's lock: nobody is admitted meanwhile. */
    <T> T locked(Function<List<Claim>, T> action) {
        IN_THIS_PROCESS.lock();
        try {
            Files.createDirectories(dir);
            try (FileChannel channel = FileChannel.open(dir.resolve(LOCK), StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE);
                 FileLock ignored = FileLocks.lock(channel)) {
                return action.apply(live());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot use the host's VM ledger in " + dir, e);
        } finally {
            IN_THIS_PROCESS.unlock();
        }
    }

    /** The claims of live owners; the entries of dead ones are removed. Called under the ledger's lock. */
    private List<Claim> live() throws IOException {
        List<Claim> claims = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                String vmId = entry.getFileName().toString();
                if (vmId.equals(LOCK)) {
                    continue;
                }
                Claim held = OURS.get(entry);
                if (held != null) {
                    claims.add(held);
                    continue;
                }
                try (FileChannel channel = FileChannel.open(entry, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    FileLock lock;
                    try {
                        lock = channel.tryLock();
                    } catch (OverlappingFileLockException ours) {
                        lock = null; // a VM of this process: alive
                    }
                    if (lock != null) {
                        Files.deleteIfExists(entry); // its owner died
                        lock.release();
                        continue;
                    }
                    Claim.parse(vmId, Files.readString(entry)).ifPresent(claims::add);
                } catch (NoSuchFileException gone) {
                    // given back while this read the folder
                }
            }
        }
        return claims;
    }
}
