package dev.kiln.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A host fetches an image by digest and verifies every byte before any VM can use it. */
class ImageFetchTest {
    @TempDir
    Path dir;
    private ImageStore source;
    private ImageStore target;
    private ImageManifest image;

    @BeforeEach
    void buildAnImage() throws IOException {
        source = new ImageStore(dir.resolve("source"));
        target = new ImageStore(dir.resolve("target"));
        Path built = Files.createDirectories(dir.resolve("source/.build"));
        Files.writeString(built.resolve(ImageManifest.KERNEL), "kernel bytes");
        Files.writeString(built.resolve(ImageManifest.INITRD), "initrd bytes");
        Files.writeString(built.resolve(ImageManifest.ROOTFS), "root filesystem bytes");
        image = source.add(built, "tiny", "1", "x86_64", "recipe", new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "0123456789abcdef"), null, null);
    }

    @Test
    void fetchesVerifiesAndStoresUnderTheDigest() throws IOException {
        ImageManifest fetched = target.fetch(image.digest(), source.asSource());

        assertThat(fetched).isEqualTo(image);
        assertThat(Files.readString(target.file(fetched, ImageManifest.ROOTFS))).isEqualTo("root filesystem bytes");
        target.verify(fetched);
        assertThat(target.fetch(image.digest(), failingSource())).as("present: not fetched again").isEqualTo(image);
    }

    @Test
    void aCorruptedFileIsRefusedAndTheStoreStaysUnchanged() throws IOException {
        ImageSource corrupting = new ImageSource() {
            @Override
            public ImageManifest manifest(String digest) throws IOException {
                return source.asSource().manifest(digest);
            }

            @Override
            public InputStream open(String digest, String file) throws IOException {
                byte[] bytes = source.asSource().open(digest, file).readAllBytes();
                if (file.equals(ImageManifest.ROOTFS)) {
                    bytes[3] ^= 1;
                }
                return new ByteArrayInputStream(bytes);
            }
        };

        assertThatThrownBy(() -> target.fetch(image.digest(), corrupting))
                .isInstanceOf(KilnException.class)
                .hasMessageContaining("rootfs.ext4 arrived with 21 bytes and digest")
                .satisfies(e -> assertThat(((KilnException) e).code()).isEqualTo(ErrorCode.IMAGE_INVALID));
        assertThat(target.list()).isEmpty();
        try (var left = Files.list(dir.resolve("target"))) {
            assertThat(left.toList()).as("no partial image or temporary directory").isEmpty();
        }
    }

    @Test
    void aManifestThatDoesNotMatchTheDigestIsRefused() {
        ImageSource lying = new ImageSource() {
            @Override
            public ImageManifest manifest(String digest) {
                var files = new HashMap<>(image.files());
                files.put(ImageManifest.ROOTFS, new ImageManifest.FileEntry("f".repeat(64), 21));
                return new ImageManifest(image.name(), image.version(), image.arch(), image.digest(), "r", image.kernel(), files,
                        null, null);
            }

            @Override
            public InputStream open(String digest, String file) {
                throw new AssertionError("nothing may be downloaded for a manifest that does not match");
            }
        };

        assertThatThrownBy(() -> target.fetch(image.digest(), lying))
                .isInstanceOf(KilnException.class).hasMessageContaining("refusing it");
        assertThat(target.list()).isEmpty();
    }

    private static ImageSource failingSource() {
        return new ImageSource() {
            @Override
            public ImageManifest manifest(String digest) {
                throw new AssertionError("the source must not be asked");
            }

            @Override
            public InputStream open(String digest, String file) {
                throw new AssertionError("the source must not be asked");
            }
        };
    }
}
