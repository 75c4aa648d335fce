package dev.kiln.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;

/**
 * A Kiln state directory for a test that boots VMs: under /var/tmp (the unprivileged VMM user must
 * reach it, which JUnit's private temporary directories forbid) and sharing the host's built images
 * read-only. Closing removes it.
 */
public final class TestStateDir implements AutoCloseable {
    public static final Path IMAGES = Path.of(System.getProperty("kiln.test.images", "/var/lib/kiln/images"));

    private final Path dir;

    private TestStateDir(Path dir) {
        this.dir = dir;
    }

    /** A new state directory whose images are the host's; fails saying what to build when the image is missing. */
    public static TestStateDir withImages(String requiredImage) {
        if (!Files.exists(IMAGES.resolve("names").resolve(requiredImage))) {
            throw new AssertionError("needs the %s image in %s: run `bin/kiln image build %s` (bin/test does)"
                    .formatted(requiredImage, IMAGES, requiredImage));
        }
        try {
            Path dir = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-test-");
            Files.createSymbolicLink(dir.resolve("images"), IMAGES);
            return new TestStateDir(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public Path path() {
        return dir;
    }

    @Override
    public void close() {
        try (var paths = Files.walk(dir)) {
            for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove " + dir, e);
        }
    }
}
