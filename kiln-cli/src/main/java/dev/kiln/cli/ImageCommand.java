package dev.kiln.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.vm.ImageBuilder;
import dev.kiln.vm.VmEngine;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** `kiln image build | list | rm | prune`. */
@Command(name = "image", description = "Builds, lists and removes guest images.",
        subcommands = {ImageCommand.Build.class, ImageCommand.ListImages.class, ImageCommand.Remove.class, ImageCommand.Rollback.class,
                ImageCommand.Prune.class})
final class ImageCommand {

    @Command(name = "build", description = "Builds an image from its recipe in images/ (Debian's packages only).")
    static final class Build implements Callable<Integer> {
        @Parameters(arity = "0..1", paramLabel = "RECIPE", description = "recipe name (default: default)")
        String recipe = "default";

        @Option(names = "--force", description = "rebuild even when the recipe is unchanged")
        boolean force;

        @Option(names = "--name", description = "store the image under this name (default: the recipe's)")
        String name;

        @Option(names = "--runner-tarball", paramLabel = "FILE",
                description = "install the official GitHub actions runner from this tarball (never downloaded)")
        java.nio.file.Path runnerTarball;

        @Option(names = "--gitlab-runner", paramLabel = "FILE",
                description = "install gitlab-runner from this file as /usr/local/bin/gitlab-runner (the official linux-amd64 binary; never downloaded)")
        java.nio.file.Path gitlabRunner;

        @Option(names = "--kernel", paramLabel = "KERNEL",
                description = "kiln (default: Kiln's own kernel from images/kernel/, built once and cached) or"
                        + " debian-cloud (Debian's cloud kernel with an initrd; the fallback)")
        String kernel = ImageBuilder.KERNELS.getFirst();

        @Option(names = "--arch", paramLabel = "ARCH", converter = Converters.GuestArch.class,
                description = "x86_64 (default) or arm64 (on an x86_64 host its packages are configured under"
                        + " qemu-user-static); an arm64 image's default name is RECIPE-arm64")
        dev.kiln.core.Arch arch = dev.kiln.core.Arch.X86_64;

        final HostOptions host = new HostOptions();

        @Override
        public Integer call() {
            ImageStore store = host.images();
            ImageBuilder builder = new ImageBuilder(HostOptions.recipes(), store, host.stateDir().resolve("cache"));
            String named = name == null ? ImageStore.nameFor(recipe, arch) : name;
            ImageManifest image;
            try {
                image = builder.build(recipe, named, arch, runnerTarball, gitlabRunner, kernel, force, System.out);
            } catch (KilnException e) {
                if (e.code() != ErrorCode.IMAGE_BUILD_FAILED) {
                    throw e; // a mistake in the command, not a failed build
                }
                // The name stays on its last good digest; `kiln image list` shows why this build did not move it.
                store.recordFailure(named, java.time.Instant.now(), e.getMessage());
                throw e;
            }
            image.runnerAgeWarning(java.time.LocalDate.now(java.time.ZoneOffset.UTC)).ifPresent(System.err::println);
            System.out.printf("%s %s%n", image.name(), image.digest());
            return ExitCodes.OK;
        }
    }

    @Command(name = "list", description = "Lists the images on this host.")
    static final class ListImages implements Callable<Integer> {
        @Option(names = "--json", description = "print JSON")
        boolean json;

        final HostOptions host = new HostOptions();

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            java.io.PrintWriter out = spec.commandLine().getOut();
            ImageStore store = host.images();
            List<ImageManifest> images = store.list();
            Map<String, List<String>> names = store.namesByDigest();
            if (json) {
                out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(images));
                return ExitCodes.OK;
            }
            out.printf("%-16s %-14s %-7s %-24s %10s  %-28s %s%n", "NAMES", "DIGEST", "ARCH", "VERSION", "ROOTFS",
                    "KERNEL", "RUNNER");
            var today = java.time.LocalDate.now(java.time.ZoneOffset.UTC);
            for (ImageManifest image : images) {
                out.printf("%-16s %-14s %-7s %-24s %9dM  %-28s %s%n",
                        String.join(",", names.getOrDefault(image.digest(), List.of("-"))), image.shortDigest(),
                        image.arch(), image.version(), image.files().get(ImageManifest.ROOTFS).size() >> 20, image.kernel(),
                        image.runnerVersion() == null ? "-" : image.runnerVersion() + " (" + image.runnerInstalledOn() + ")");
            }
            store.failures().forEach((failed, why) -> out.printf(
                    "FAILED %s: the last build failed, the name stays where it was: %s%n", failed, why));
            for (ImageManifest image : images) {
                image.runnerAgeWarning(today).ifPresent(warning -> System.err.println("warning: " + warning));
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "rm", description = "Removes an image that no VM uses.")
    static final class Remove implements Callable<Integer> {
        @Parameters(paramLabel = "IMAGE", description = "name or digest")
        String reference;

        final HostOptions host = new HostOptions();

        @Override
        public Integer call() {
            ImageStore store = host.images();
            ImageManifest image = store.resolve(reference);
            List<String> users = VmEngine.vmsUsing(host.config(), image);
            if (!users.isEmpty()) {
                throw new KilnException(ErrorCode.CONFLICT, "image %s (%s) is in use by %s; remove it after they end"
                        .formatted(image.name(), image.shortDigest(), String.join(", ", users)));
            }
            store.remove(image);
            System.out.printf("removed %s %s%n", image.name(), image.digest());
            return ExitCodes.OK;
        }
    }

    @Command(name = "rollback", description = "Moves a name back to the digest it had before its last build.")
    static final class Rollback implements Callable<Integer> {
        @Parameters(paramLabel = "NAME", description = "the image's name")
        String name;

        final HostOptions host = new HostOptions();

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            ImageManifest image = host.images().rollback(name);
            spec.commandLine().getOut().printf("%s now names %s (version %s)%n", name, image.digest(), image.version());
            return ExitCodes.OK;
        }
    }

    @Command(name = "prune", description = "Removes the images no name points to (builds a newer one replaced) that no VM uses.")
    static final class Prune implements Callable<Integer> {
        final HostOptions host = new HostOptions();

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            java.io.PrintWriter out = spec.commandLine().getOut();
            ImageStore store = host.images();
            Map<String, List<String>> names = store.namesByDigest();
            // The digest each name had before its last build stays, for `kiln image rollback`.
            java.util.Set<String> kept = store.rollbackDigests();
            List<ImageManifest> unnamed = store.list().stream()
                    .filter(image -> !names.containsKey(image.digest()) && !kept.contains(image.digest())).toList();
            if (unnamed.isEmpty()) {
                out.println("no unnamed images");
                return ExitCodes.OK;
            }
            int removed = 0;
            long bytes = 0;
            for (ImageManifest image : unnamed) {
                List<String> users = VmEngine.vmsUsing(host.config(), image);
                if (!users.isEmpty()) {
                    out.printf("kept %s %s: in use by %s%n", image.name(), image.digest(), String.join(", ", users));
                    continue;
                }
                store.remove(image);
                removed++;
                bytes += image.files().values().stream().mapToLong(ImageManifest.FileEntry::size).sum();
                out.printf("removed %s %s%n", image.name(), image.digest());
            }
            // The files' sizes: a sparse root filesystem may have held less of the disk.
            out.printf("removed %d image(s), %d MiB of files%n", removed, bytes >> 20);
            return ExitCodes.OK;
        }
    }
}
