package dev.kiln.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each image records its arch; a VM of one arch finds its own build of a name and refuses another's. */
class ImageArchTest {
    @TempDir
    Path dir;

    private ImageManifest add(ImageStore store, String name, Arch arch) throws IOException {
        Path built = store.newBuildDirectory(name);
        Files.writeString(built.resolve(ImageManifest.KERNEL), arch + " kernel");
        Files.writeString(built.resolve(ImageManifest.ROOTFS), arch + " root");
        return store.add(built, name, "1", arch.id(), "r", new ImageManifest.Kernel("kiln", "6.1.192-kiln", "k"), null, null);
    }

    @Test
    void aNameResolvesToTheBuildOfTheVmsArch() throws IOException {
        ImageStore store = new ImageStore(dir);
        ImageManifest x86 = add(store, "default", Arch.X86_64);
        ImageManifest arm = add(store, ImageStore.nameFor("default", Arch.ARM64), Arch.ARM64);

        assertThat(arm.name()).isEqualTo("default-arm64");
        assertThat(store.resolve("default", Arch.X86_64)).isEqualTo(x86);
        assertThat(store.resolve("default", Arch.ARM64)).isEqualTo(arm);
        assertThat(store.resolve("default-arm64", Arch.ARM64)).isEqualTo(arm);
        assertThat(store.resolve(arm.digest(), Arch.ARM64)).isEqualTo(arm);
        // As a host reads it back from disk.
        assertThat(ManifestJson.read(Files.readAllBytes(store.directory(arm).resolve("manifest.json"))).architecture())
                .isEqualTo(Arch.ARM64);
    }

    @Test
    void anImageOfAnotherArchIsRefusedSayingWhichArchItIsBuiltFor() throws IOException {
        ImageStore store = new ImageStore(dir);
        ImageManifest x86 = add(store, "only-x86", Arch.X86_64);

        assertThatThrownBy(() -> store.resolve("only-x86", Arch.ARM64))
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.IMAGE_INVALID);
                    assertThat(e.getMessage()).contains("only-x86", "built for x86_64", "this VM is arm64",
                            "--arch arm64");
                });
        assertThatThrownBy(() -> store.resolve(x86.digest(), Arch.ARM64)).isInstanceOf(KilnException.class);
        assertThat(x86.requireArch(Arch.ANY)).isEqualTo(x86);
    }
}
