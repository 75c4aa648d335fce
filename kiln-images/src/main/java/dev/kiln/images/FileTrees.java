package dev.kiln.images;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/** Removes a directory tree: a failed build's, a removed image's, a VM's state once it ends. */
public final class FileTrees {
    private FileTrees() {}

    /** Deletes root and everything under it; nothing when it is absent. */
    public static void delete(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }
}
