package dev.kiln.server;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's files at rest are its owner's alone: the data directory (and every directory in it) 0700,
 * every file 0600. The database, its write-ahead log and the admin token hold secrets; with the JVM's usual
 * umask they were made 0644 in a 0755 directory, and a job's environment was read from the WAL by
 * {@code nobody}. Checked at every start; an existing install is fixed, with a warning naming what changed.
 */
public final class DataFiles {
    private static final Logger log = LoggerFactory.getLogger(DataFiles.class);
    static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    private static final List<String> SQLITE_SIDE_FILES = List.of("-wal", "-shm", "-journal");

    private DataFiles() {}

    /** Makes {@code dir} 0700 if missing; otherwise makes it and what it holds 0700 (directories) and 0600 (files). */
    public static void secureDirectory(Path dir) {
        if (!posix()) {
            return;
        }
        List<String> fixed = new ArrayList<>();
        try {
            if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
                makeDirectories(dir);
                return;
            }
            try (Stream<Path> tree = Files.walk(dir)) {
                for (Path path : (Iterable<Path>) tree::iterator) {
                    if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
                        restrict(path, DIRECTORY, fixed);
                    } else if (Files.isRegularFile(path, LinkOption.NOFOLLOW_LINKS)) {
                        restrict(path, FILE, fixed);
                    }
                }
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot make the data directory " + dir
                    + " its owner's alone (0700, files 0600): " + e.getMessage(), e);
        }
        warn(fixed);
    }

    /**
     * Makes an SQLite database file 0600 before SQLite opens it (creating it empty if missing): SQLite gives
     * its write-ahead log and shared-memory files the database file's mode. Side files left by an earlier
     * run are made 0600 too. Nothing for an in-memory database.
     */
    static void secureSqlite(String url) {
        Path file = sqliteFile(url);
        if (file == null || !posix()) {
            return;
        }
        List<String> fixed = new ArrayList<>();
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null && !Files.exists(parent)) {
                makeDirectories(parent);
            }
            if (!Files.exists(file)) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(FILE));
            } else {
                restrict(file, FILE, fixed);
            }
            for (String suffix : SQLITE_SIDE_FILES) {
                Path side = file.resolveSibling(file.getFileName() + suffix);
                if (Files.isRegularFile(side, LinkOption.NOFOLLOW_LINKS)) {
                    restrict(side, FILE, fixed);
                }
            }
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot make the database " + file
                    + " its owner's alone (0600): " + e.getMessage(), e);
        }
        warn(fixed);
    }

    /** The file of a {@code jdbc:sqlite:} URL, or null for an in-memory database or another URL. */
    static Path sqliteFile(String url) {
        if (!url.startsWith("jdbc:sqlite:")) {
            return null;
        }
        String path = url.substring("jdbc:sqlite:".length());
        int query = path.indexOf('?');
        if (query >= 0) {
            path = path.substring(0, query);
        }
        if (path.startsWith("file:")) {
            path = path.substring("file:".length());
        }
        if (path.isEmpty() || path.startsWith(":memory:") || path.contains("mode=memory")) {
            return null;
        }
        return Path.of(path);
    }

    private static void makeDirectories(Path dir) throws IOException {
        Path parent = dir.toAbsolutePath().getParent();
        if (parent != null && !Files.exists(parent)) {
            Files.createDirectories(parent);
        }
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(DIRECTORY));
        // The umask may have taken bits away from the mode asked for, never added any; still, say it plainly.
        Files.setPosixFilePermissions(dir, DIRECTORY);
    }

    private static void restrict(Path path, Set<PosixFilePermission> wanted, List<String> fixed) throws IOException {
        Set<PosixFilePermission> actual = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
        if (!actual.equals(wanted)) {
            Files.setPosixFilePermissions(path, wanted);
            fixed.add(path + " (was " + PosixFilePermissions.toString(actual) + ")");
        }
    }

    private static void warn(List<String> fixed) {
        if (!fixed.isEmpty()) {
            log.warn("{} path(s) of Kiln's data were readable by others and are now their owner's alone: {}",
                    fixed.size(), String.join(", ", fixed));
        }
    }

    private static boolean posix() {
        return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }
}
