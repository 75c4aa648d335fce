package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What decides whether an image is rebuilt: its recipe's digest, which covers the kernel it boots. */
class ImageBuilderTest {
    /** The repository's recipes; surefire runs in the module's directory. */
    private static final Path RECIPES = Path.of("..", "images").toAbsolutePath().normalize();

    @TempDir
    Path dir;

    @Test
    void theKernelsRecipeAndTheKernelChosenAreInTheImagesRecipeDigest() throws IOException {
        Path recipes = copyOfRecipes();
        ImageBuilder builder = new ImageBuilder(recipes, new ImageStore(dir.resolve("store")), dir.resolve("cache"));
        String kiln = builder.recipeDigest("default", Arch.X86_64, null, null, ImageManifest.Kernel.KILN);

        assertThat(builder.recipeDigest("default", Arch.X86_64, null, null, ImageManifest.Kernel.KILN)).isEqualTo(kiln);
        assertThat(builder.recipeDigest("default", Arch.X86_64, null, null, ImageManifest.Kernel.DEBIAN_CLOUD)).isNotEqualTo(kiln);

        Files.writeString(recipes.resolve("kernel/kiln.config"), "CONFIG_IKCONFIG=y\n", StandardOpenOption.APPEND);
        String changed = builder.recipeDigest("default", Arch.X86_64, null, null, ImageManifest.Kernel.KILN);
        assertThat(changed).isNotEqualTo(kiln);

        // The gitlab-runner installed is an input too: another program, another image.
        Path gitlabRunner = Files.writeString(dir.resolve("gitlab-runner"), "#!/bin/sh\necho one\n");
        String withRunner = builder.recipeDigest("default", Arch.X86_64, null, gitlabRunner, ImageManifest.Kernel.KILN);
        assertThat(withRunner).isNotEqualTo(changed);
        Files.writeString(gitlabRunner, "#!/bin/sh\necho two\n");
        assertThat(builder.recipeDigest("default", Arch.X86_64, null, gitlabRunner, ImageManifest.Kernel.KILN)).isNotEqualTo(withRunner);
    }

    @Test
    void eachArchitectureHasItsOwnDigestAndKernelRecipe() throws IOException {
        Path recipes = copyOfRecipes();
        ImageBuilder builder = new ImageBuilder(recipes, new ImageStore(dir.resolve("store")), dir.resolve("cache"));
        String x86 = builder.recipeDigest("default", Arch.X86_64, null, null, ImageManifest.Kernel.KILN);
        String arm64 = builder.recipeDigest("default", Arch.ARM64, null, null, ImageManifest.Kernel.KILN);

        assertThat(arm64).isNotEqualTo(x86);
        // arm64's own kernel fragment changes its images only.
        Files.writeString(recipes.resolve("kernel/arm64.config"), "CONFIG_IKCONFIG=y\n", StandardOpenOption.APPEND);
        assertThat(builder.recipeDigest("default", Arch.X86_64, null, null, ImageManifest.Kernel.KILN)).isEqualTo(x86);
        assertThat(builder.recipeDigest("default", Arch.ARM64, null, null, ImageManifest.Kernel.KILN)).isNotEqualTo(arm64);
    }

    @Test
    void anArm64ImageBootsKilnsKernelOnly() {
        ImageBuilder builder = new ImageBuilder(RECIPES, new ImageStore(dir.resolve("store")), dir.resolve("cache"));

        assertThatThrownBy(() -> builder.build("default", "default-arm64", Arch.ARM64, null, null,
                ImageManifest.Kernel.DEBIAN_CLOUD, false, new PrintStream(PrintStream.nullOutputStream())))
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
                    assertThat(e.getMessage()).contains("arm64", "debian-cloud");
                });
        assertThat(dir.resolve("store")).doesNotExist();
    }

    @Test
    void anUnknownKernelIsRefusedBeforeAnythingIsBuilt() {
        ImageBuilder builder = new ImageBuilder(RECIPES, new ImageStore(dir.resolve("store")), dir.resolve("cache"));

        assertThatThrownBy(() -> builder.build("default", "default", Arch.X86_64, null, null, "linux-image-amd64", false,
                new PrintStream(PrintStream.nullOutputStream())))
                .isInstanceOfSatisfying(KilnException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT);
                    assertThat(e.getMessage()).contains("--kernel linux-image-amd64", "kiln, debian-cloud");
                });
        assertThat(dir.resolve("store")).doesNotExist();
    }

    private Path copyOfRecipes() throws IOException {
        Path copy = dir.resolve("images");
        try (Stream<Path> files = Files.walk(RECIPES)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Path target = copy.resolve(RECIPES.relativize(file).toString());
                if (Files.isDirectory(file)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(file, target, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
                }
            }
        }
        return copy;
    }
}
