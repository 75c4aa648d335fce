package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `kiln image prune` removes superseded builds, never a named image, the one a rollback would return to, nor one
 * a VM still boots from; `kiln image rollback` moves a name back.
 */
class ImagePruneTest {
    @TempDir(cleanup = org.junit.jupiter.api.io.CleanupMode.ALWAYS)
    Path state;

    @Test
    void unnamedImagesGoUnlessAVmUsesThem() throws IOException {
        ImageStore store = new ImageStore(state.resolve("images"));
        ImageManifest superseded = add(store, "default", "oldest kernel");
        ImageManifest previous = add(store, "default", "old kernel");
        ImageManifest current = add(store, "default", "new kernel");
        ImageManifest runner = add(store, "runner", "runner kernel");
        ImageManifest inUse = add(store, "ci", "ci kernel v1");
        ImageManifest ciPrevious = add(store, "ci", "ci kernel v2");
        add(store, "ci", "ci kernel v3");
        // A VM of a live Kiln process (this one holds its lock) still boots from the superseded ci image.
        Path vm = Files.createDirectories(state.resolve("vms").resolve("vm-0123456789ab"));
        Files.writeString(vm.resolve("image"), inUse.digest());

        try (FileChannel channel = FileChannel.open(vm.resolve("owner.lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock held = channel.lock()) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int code = Kiln.execute(new PrintWriter(out, true), new PrintWriter(err, true), "image", "prune",
                    "--state-dir", state.toString());

            assertThat(code).as(err.toString()).isZero();
            assertThat(out.toString()).contains("removed default " + superseded.digest(),
                    "kept ci " + inUse.digest() + ": in use by vm-0123456789ab", "removed 1 image(s)");
            assertThat(store.list()).extracting(ImageManifest::digest)
                    .containsExactlyInAnyOrder(current.digest(), previous.digest(), runner.digest(), inUse.digest(),
                            ciPrevious.digest(), store.findByName("ci").orElseThrow().digest());
            assertThat(store.resolve("default").digest()).isEqualTo(current.digest());
            // Pruning looks at the host's VMs without preparing it for new ones.
            assertThat(state.resolve("nft.lock")).doesNotExist();
        }
    }

    @Test
    void aStoreWithOnlyNamedImagesIsLeftAlone() throws IOException {
        ImageStore store = new ImageStore(state.resolve("images"));
        ImageManifest only = add(store, "default", "kernel");
        StringWriter out = new StringWriter();

        int code = Kiln.execute(new PrintWriter(out, true), new PrintWriter(new StringWriter(), true), "image", "prune",
                "--state-dir", state.toString());

        assertThat(code).isZero();
        assertThat(out.toString()).contains("no unnamed images");
        assertThat(store.list()).extracting(ImageManifest::digest).containsExactly(only.digest());
    }

    @Test
    void rollbackMovesANameBackOneDigestAtATimeAndSaysWhenThereIsNoneLeft() throws IOException {
        ImageStore store = new ImageStore(state.resolve("images"));
        ImageManifest first = add(store, "runner", "kernel 1");
        ImageManifest second = add(store, "runner", "kernel 2");
        add(store, "runner", "kernel 2"); // the same bytes again: the name does not move, no history
        ImageManifest third = add(store, "runner", "kernel 3");

        assertThat(image("rollback", "runner").out()).contains("runner now names " + second.digest());
        assertThat(store.resolve("runner").digest()).isEqualTo(second.digest());
        assertThat(image("rollback", "runner").out()).contains("runner now names " + first.digest());
        assertThat(store.resolve("runner").digest()).isEqualTo(first.digest());

        Outcome none = image("rollback", "runner");
        assertThat(none.code()).isEqualTo(ExitCodes.of(dev.kiln.core.ErrorCode.CONFLICT));
        assertThat(none.err()).contains("image runner has had one digest only (" + first.digest() + ")");
        assertThat(image("rollback", "nosuch").err()).contains("no image is named nosuch");
        // The newer builds are unnamed now, and not rollback targets: a prune removes them.
        assertThat(image("prune").out()).contains("removed runner " + third.digest(), "removed runner " + second.digest());
    }

    @Test
    void aFailedBuildLeavesTheNameWhereItWasAndTheListShowsTheFailureUntilABuildSucceeds() throws IOException {
        ImageStore store = new ImageStore(state.resolve("images"));
        ImageManifest good = add(store, "runner", "good kernel");
        // A recipe whose build script fails as a real one does (debootstrap refused, say): exit status, output.
        Path home = Files.createDirectories(state.resolve("home"));
        Path script = Files.createDirectories(home.resolve("images/broken")).resolveSibling("build-image.sh");
        Files.writeString(home.resolve("images/broken/recipe.env"), "SUITE=bookworm\n");
        Files.writeString(Files.createDirectories(home.resolve("images/guest")).resolve("init"), "#!/bin/sh\n");
        Files.writeString(script, "#!/bin/sh\necho 'debootstrap: mirror unreachable'\nexit 3\n");
        Files.setPosixFilePermissions(script, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        String before = System.getProperty("kiln.home");
        System.setProperty("kiln.home", home.toString());
        Outcome build;
        try {
            build = image("build", "broken", "--name", "runner", "--kernel", "debian-cloud");
        } finally {
            if (before == null) {
                System.clearProperty("kiln.home");
            } else {
                System.setProperty("kiln.home", before);
            }
        }

        assertThat(build.code()).as(build.err()).isEqualTo(ExitCodes.of(dev.kiln.core.ErrorCode.IMAGE_BUILD_FAILED));
        assertThat(store.resolve("runner").digest()).isEqualTo(good.digest());
        assertThat(image("list").out()).contains("FAILED runner: the last build failed, the name stays where it was:",
                "build-image.sh exited with 3");

        add(store, "runner", "fixed kernel");
        assertThat(image("list").out()).doesNotContain("FAILED");
    }

    private record Outcome(int code, String out, String err) {}

    private Outcome image(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        String[] full = new String[args.length + 3];
        full[0] = "image";
        System.arraycopy(args, 0, full, 1, args.length);
        full[args.length + 1] = "--state-dir";
        full[args.length + 2] = state.toString();
        int code = Kiln.execute(new PrintWriter(out, true), new PrintWriter(err, true), full);
        return new Outcome(code, out.toString(), err.toString());
    }

    /** An image whose kernel file holds these bytes, stored under this name (which then points at it). */
    private ImageManifest add(ImageStore store, String name, String kernel) throws IOException {
        Path built = Files.createTempDirectory(Files.createDirectories(state.resolve("images")), ".build-");
        Files.writeString(built.resolve(ImageManifest.KERNEL), kernel);
        Files.writeString(built.resolve(ImageManifest.INITRD), "initrd");
        Files.writeString(built.resolve(ImageManifest.ROOTFS), "rootfs");
        return store.add(built, name, "1", "x86_64", "recipe",
                new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "k"), null, null);
    }
}
