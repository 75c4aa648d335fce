package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.FileTrees;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.images.Sha256;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Builds an image from a recipe under {@code images/} with {@code images/build-image.sh}: Debian's
 * packages only. The image boots Kiln's own kernel ({@code images/kernel/}, built once per recipe and
 * cached) or, as a fallback, Debian's cloud kernel with an initrd. Idempotent: when the recipe, the
 * guest files and the kernel are those of the image the name already points at, nothing is rebuilt.
 */
public final class ImageBuilder {
    private final Path recipesDir;
    private final ImageStore store;
    private final Path cacheDir;

    public ImageBuilder(Path recipesDir, ImageStore store, Path cacheDir) {
        this.recipesDir = requireNonNull(recipesDir, "recipesDir is null");
        this.store = requireNonNull(store, "store is null");
        this.cacheDir = requireNonNull(cacheDir, "cacheDir is null");
    }

    public List<String> recipes() {
        try (Stream<Path> dirs = Files.list(recipesDir)) {
            return dirs.filter(d -> Files.isRegularFile(d.resolve("recipe.env")))
                    .map(d -> d.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list recipes in " + recipesDir, e);
        }
    }

    /** The kernels an image can boot, the first being the default. */
    public static final List<String> KERNELS = List.of(ImageManifest.Kernel.KILN, ImageManifest.Kernel.DEBIAN_CLOUD);

    /**
     * Builds {@code recipe} and stores it as {@code name}.
     *
     * @param arch the guest architecture (x86_64 or arm64), recorded in the manifest
     * @param runnerTarball the official actions runner tarball to install, or null
     * @param gitlabRunner the gitlab-runner program to install as {@code /usr/local/bin/gitlab-runner}, or null
     * @param kernel one of {@link #KERNELS}
     */
    public ImageManifest build(String recipe, String name, Arch arch, Path runnerTarball, Path gitlabRunner, String kernel,
            boolean force, PrintStream progress) {
        return build(recipe, name, arch, runnerTarball, gitlabRunner, kernel, force, true, null, progress);
    }

    /**
     * Builds {@code recipe} on Kiln's kernel and stores it by digest for {@code name} without moving the name, which the
     * image pipeline moves only once the image booted and passed its smoke test ({@link ImageStore#moveName}). Always
     * builds: a rebuild of an unchanged recipe takes Debian's current packages.
     *
     * @param buildDate the day recorded as the runner's installation (the pipeline's clock's), or null for today's
     */
    public ImageManifest buildCandidate(String recipe, String name, Arch arch, Path runnerTarball,
            java.time.LocalDate buildDate, PrintStream progress) {
        return build(recipe, name, arch, runnerTarball, null, ImageManifest.Kernel.KILN, true, false, buildDate, progress);
    }

    private ImageManifest build(String recipe, String name, Arch arch, Path runnerTarball, Path gitlabRunner, String kernel,
            boolean force, boolean moveName, java.time.LocalDate buildDate, PrintStream progress) {
        requireNonNull(arch, "arch is null");
        if (arch == Arch.ANY) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--arch any: an image is built for x86_64 or arm64");
        }
        if (arch != Arch.X86_64 && !kernel.equals(ImageManifest.Kernel.KILN)) {
            // Debian's cloud kernel needs an initrd of that architecture's modules and busybox: x86_64 only.
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--kernel %s: %s images boot Kiln's kernel (kiln) only"
                    .formatted(kernel, arch));
        }
        if (!KERNELS.contains(kernel)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--kernel %s: the kernels are %s"
                    .formatted(kernel, String.join(", ", KERNELS)));
        }
        if (!recipes().contains(recipe)) {
            throw new KilnException(ErrorCode.IMAGE_NOT_FOUND, "no recipe '%s' in %s; recipes: %s"
                    .formatted(recipe, recipesDir, String.join(", ", recipes())));
        }
        if (!name.matches("[a-z0-9][a-z0-9-]{0,62}")) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                    "image name '%s' must be lower-case letters, digits and '-'".formatted(name));
        }
        if (runnerTarball != null && !Files.isRegularFile(runnerTarball)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--runner-tarball " + runnerTarball + " is not a file");
        }
        if (gitlabRunner != null && !Files.isRegularFile(gitlabRunner)) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--gitlab-runner " + gitlabRunner + " is not a file");
        }
        String recipeDigest = recipeDigest(recipe, arch, runnerTarball, gitlabRunner, kernel);
        var existing = store.findByName(name);
        if (!force && existing.isPresent() && recipeDigest.equals(existing.get().recipeDigest())) {
            progress.printf("[kiln image build] %s is up to date (%s); --force rebuilds it%n", name,
                    existing.get().shortDigest());
            return existing.get();
        }
        Path out;
        try {
            out = store.newBuildDirectory(recipe);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            runBuildScript(recipe, out, arch, runnerTarball, gitlabRunner, kernel, buildDate, progress);
            Map<String, String> built = readEnv(out.resolve("image.env"));
            Files.delete(out.resolve("image.env"));
            var bootedKernel = new ImageManifest.Kernel(built.getOrDefault("KERNEL_SOURCE", kernel),
                    built.getOrDefault("KERNEL_VERSION", "unknown"), built.get("KERNEL_RECIPE"));
            String version = built.getOrDefault("SUITE", "") + "-" + recipeDigest.substring(0, 8);
            ImageManifest image = moveName
                    ? store.add(out, name, version, arch.id(), recipeDigest, bootedKernel, built.get("RUNNER_VERSION"),
                            built.get("RUNNER_INSTALLED"))
                    : store.store(out, name, version, arch.id(), recipeDigest, bootedKernel, built.get("RUNNER_VERSION"),
                            built.get("RUNNER_INSTALLED"));
            progress.printf("[kiln image build] stored %s%s as %s%n", name, moveName ? "" : " (the name not moved)",
                    image.digest());
            return image;
        } catch (IOException e) {
            throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "building " + recipe + " failed: " + e.getMessage(), e);
        } finally {
            try {
                FileTrees.delete(out);
            } catch (IOException e) {
                progress.printf("[kiln image build] could not remove the build directory %s: %s%n", out, e.getMessage());
            }
        }
    }

    private void runBuildScript(String recipe, Path out, Arch arch, Path runnerTarball, Path gitlabRunner, String kernel,
            java.time.LocalDate buildDate, PrintStream progress) throws IOException {
        List<String> command = List.of(recipesDir.resolve("build-image.sh").toString(), recipe, out.toString(),
                cacheDir.toString());
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().put("KILN_KERNEL", kernel);
        builder.environment().put("KILN_ARCH", arch.id());
        if (buildDate != null) {
            builder.environment().put("KILN_BUILD_DATE", buildDate.toString());
        }
        if (runnerTarball != null) {
            builder.environment().put("KILN_RUNNER_TARBALL", runnerTarball.toAbsolutePath().toString());
        }
        if (gitlabRunner != null) {
            builder.environment().put("KILN_GITLAB_RUNNER", gitlabRunner.toAbsolutePath().toString());
        }
        Process process = builder.start();
        try (InputStream output = process.getInputStream()) {
            output.transferTo(progress);
            int code = process.waitFor();
            if (code != 0) {
                throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED,
                        "%s exited with %d (output above); the store is unchanged".formatted(command.getFirst(), code));
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "image build interrupted; the store is unchanged", e);
        }
    }

    /** Digest of everything that decides the image's content. */
    String recipeDigest(String recipe, Arch arch, Path runnerTarball, Path gitlabRunner, String kernel) {
        StringBuilder inputs = new StringBuilder();
        List<Path> files = new ArrayList<>();
        files.add(recipesDir.resolve("build-image.sh"));
        try (Stream<Path> guest = Files.walk(recipesDir.resolve("guest"));
             Stream<Path> own = Files.walk(recipesDir.resolve(recipe))) {
            Stream.concat(guest, own).filter(Files::isRegularFile).sorted().forEach(files::add);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (Path file : files) {
            inputs.append(recipesDir.relativize(file)).append(' ').append(Sha256.of(file)).append('\n');
        }
        inputs.append("arch ").append(arch.id()).append('\n');
        inputs.append("kernel ").append(kernel).append('\n');
        if (kernel.equals(ImageManifest.Kernel.KILN)) {
            // The digest of the kernel's recipe and of the source package's version.
            inputs.append(HostCommand.execute(List.of(recipesDir.resolve("kernel/build-kernel.sh").toString(), "--arch",
                    arch.id(), "--digest"), null).stdout());
        } else {
            String kernelPackage = readEnv(recipesDir.resolve(recipe).resolve("recipe.env")).getOrDefault("KERNEL_PACKAGE", "");
            inputs.append(HostCommand.execute(List.of("apt-cache", "policy", kernelPackage), null).stdout());
        }
        if (runnerTarball != null) {
            inputs.append("runner ").append(Sha256.of(runnerTarball)).append('\n');
        }
        if (gitlabRunner != null) {
            inputs.append("gitlab-runner ").append(Sha256.of(gitlabRunner)).append('\n');
        }
        return Sha256.of(inputs.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static Map<String, String> readEnv(Path file) {
        Map<String, String> values = new java.util.HashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                int eq = line.indexOf('=');
                if (eq > 0 && !line.startsWith("#")) {
                    values.put(line.substring(0, eq).strip(), line.substring(eq + 1).strip().replaceAll("^\"|\"$", ""));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return values;
    }
}
