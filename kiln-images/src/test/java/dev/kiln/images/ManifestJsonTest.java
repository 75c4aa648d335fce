package dev.kiln.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The manifest's streaming reader and writer, against the object mapper the agent reads it with. */
class ManifestJsonTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final ImageManifest.FileEntry ENTRY = new ImageManifest.FileEntry("0".repeat(64), 123_456_789_012L);
    private static final ImageManifest PLAIN = new ImageManifest("default", "1", "x86_64", "sha256:" + "a".repeat(64),
            "r", new ImageManifest.Kernel(ImageManifest.Kernel.DEBIAN_CLOUD, "6.1.0-28-cloud-amd64",
                    "linux-image-6.1.0-28-cloud-amd64_6.1.119-1_amd64.deb"),
            Map.of(ImageManifest.KERNEL, ENTRY, ImageManifest.INITRD, ENTRY, ImageManifest.ROOTFS, ENTRY), null, null);
    private static final ImageManifest RUNNER = new ImageManifest("runner \"quoted\" ✓", "2", "x86_64",
            "sha256:" + "b".repeat(64), "r2", new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "0123456789abcdef"),
            Map.of(ImageManifest.KERNEL, ENTRY, ImageManifest.ROOTFS, ENTRY), "2.321.0", "2026-11-10");

    @TempDir
    Path dir;

    @Test
    void whatItWritesItReadsAndTheAgentsMapperReadsTheSame() throws IOException {
        for (ImageManifest manifest : new ImageManifest[] {PLAIN, RUNNER}) {
            byte[] json = ManifestJson.write(manifest);
            assertThat(ManifestJson.read(json)).isEqualTo(manifest);
            assertThat(MAPPER.readValue(json, ImageManifest.class)).isEqualTo(manifest);
            assertThat(ManifestJson.read(MAPPER.writeValueAsBytes(manifest))).isEqualTo(manifest);
            assertThat(MAPPER.readTree(json)).isEqualTo(MAPPER.readTree(MAPPER.writeValueAsBytes(manifest)));
        }
    }

    @Test
    void badManifestsAreRefusedWithWhatIsWrong() {
        String good = new String(write(PLAIN), StandardCharsets.UTF_8);
        assertRefused("[]", "the manifest must be an object, not an array");
        assertRefused("", "the manifest must be an object, not the end of the text");
        assertRefused(good.replace("\"arch\"", "\"architecture\""), "unknown field 'architecture'");
        assertRefused(good.replace("\"size\" : 123456789012", "\"size\" : \"big\""),
                "files.initrd.img.size must be a whole number, not a string");
        assertRefused(good.replace("\"name\" : \"default\"", "\"name\" : 7"), "name must be a string, not a whole number");
        assertRefused(good.replace("\"name\" : \"default\"", "\"name\" : null"), "the manifest has no name");
        assertRefused(good.replace("\"rootfs.ext4\"", "\"rootfs.img\""), "image default lacks rootfs.ext4");
        assertRefused(good + "{}", "text after the manifest's closing brace");
        assertRefused(good.substring(0, good.length() / 2), "Unexpected end-of-input");
    }

    @Test
    void theKernelIsRecordedAndAManifestWithoutOneIsRefused() throws IOException {
        String good = new String(write(RUNNER), StandardCharsets.UTF_8);
        assertThat(MAPPER.readTree(good).path("kernel").path("source").asText()).isEqualTo("kiln");
        assertThat(MAPPER.readTree(good).path("kernel").path("recipe").asText()).isEqualTo("0123456789abcdef");
        assertThat(ManifestJson.read(write(RUNNER)).hasInitrd()).isFalse();
        assertThat(ManifestJson.read(write(PLAIN)).hasInitrd()).isTrue();
        String withoutKernel = MAPPER.writeValueAsString(((com.fasterxml.jackson.databind.node.ObjectNode)
                MAPPER.readTree(good)).without("kernel"));
        assertRefused(withoutKernel, "the manifest has no kernel");
        assertRefused(good.replace("\"recipe\" :", "\"config\" :"), "unknown field 'kernel.config'");
        assertRefused(good.replace("\"source\" : \"kiln\"", "\"source\" : null"), "kernel needs source and version");
    }

    @Test
    void aManifestFromBeforeKernelsWereRecordedReadsAsDebiansCloudKernel() throws IOException {
        var legacy = (com.fasterxml.jackson.databind.node.ObjectNode) MAPPER.readTree(write(PLAIN));
        legacy.remove("kernel");
        legacy.put("kernelVersion", "6.1.0-28-cloud-amd64");

        ImageManifest read = ManifestJson.read(MAPPER.writeValueAsBytes(legacy));

        assertThat(read.kernel()).isEqualTo(new ImageManifest.Kernel("debian-cloud", "6.1.0-28-cloud-amd64", null));
        assertThat(read.hasInitrd()).isTrue();
    }

    @Test
    void theStoreRefusesACorruptManifestAndNamesTheFile() throws IOException {
        ImageStore store = new ImageStore(dir);
        Path image = Files.createDirectories(dir.resolve(PLAIN.digest().replace(':', '-')));
        Files.writeString(image.resolve("manifest.json"), "{\"name\": \"default\", \"files\": 3}");
        Files.createDirectories(dir.resolve("names"));
        Files.writeString(dir.resolve("names").resolve("default"), PLAIN.digest() + "\n");

        assertThatThrownBy(() -> store.resolve("default")).isInstanceOfSatisfying(KilnException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.IMAGE_INVALID);
            assertThat(e.getMessage()).contains(image.resolve("manifest.json").toString(),
                    "files must be an object, not a whole number", "kiln image build");
        });
    }

    private static byte[] write(ImageManifest manifest) {
        try {
            return ManifestJson.write(manifest);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static void assertRefused(String json, String message) {
        assertThatThrownBy(() -> ManifestJson.read(json.getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IOException.class).hasMessageContaining(message);
    }
}
