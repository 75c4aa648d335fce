package dev.kiln.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.KilnException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The package list a build writes beside an image's manifest, and images built before there was one. */
class ImagePackagesTest {
    @TempDir
    Path dir;

    @Test
    void theListIsReadFromBesideTheManifestAndAnOlderImageHasNone() throws Exception {
        ImageStore store = new ImageStore(dir.resolve("images"));
        ImageManifest old = stored(store, "old", null);
        assertThat(store.packages(old)).as("built before builds recorded their packages").isEmpty();
        assertThat(store.findByName("old")).contains(old);

        // As build-image.sh writes it (dpkg-query's lines sorted, after the suite and Debian's arch).
        ImageManifest listed = stored(store, "listed", """
                suite bookworm
                debian-arch arm64
                package adduser all 3.134
                package libssl3 arm64 3.0.17-1~deb12u1
                package openssh-server arm64 1:9.2p1-2+deb12u10
                """);
        ImagePackages packages = store.packages(listed).orElseThrow();
        assertThat(packages.suite()).isEqualTo("bookworm");
        assertThat(packages.debianArch()).isEqualTo("arm64");
        assertThat(packages.versions()).isEqualTo(Map.of("adduser", "3.134", "libssl3", "3.0.17-1~deb12u1",
                "openssh-server", "1:9.2p1-2+deb12u10"));
        // Not one of the image's files: its digest and what another host fetches are unchanged by it.
        assertThat(listed.files()).doesNotContainKey(ImagePackages.FILE);
    }

    @Test
    void aMalformedListIsRefusedNamingTheLine() throws Exception {
        assertThatThrownBy(() -> ImagePackages.parse("suite bookworm\ndebian-arch amd64\npackage libssl3 3.0\n"))
                .hasMessageContaining("line 3 of packages is 'package libssl3 3.0', not 'package NAME ARCH VERSION'");
        assertThatThrownBy(() -> ImagePackages.parse("suite bookworm\nversion 1\n"))
                .hasMessageContaining("line 2 of packages starts with 'version'");
        assertThatThrownBy(() -> ImagePackages.parse("package a all 1\n")).hasMessageContaining("names no suite");
        ImageStore store = new ImageStore(dir.resolve("images"));
        ImageManifest broken = stored(store, "broken", "suite\n");
        assertThatThrownBy(() -> store.packages(broken)).isInstanceOf(KilnException.class)
                .hasMessageContaining("image broken (").hasMessageContaining("is unreadable: line 1 of packages");
    }

    private ImageManifest stored(ImageStore store, String name, String packages) throws Exception {
        Path out = store.newBuildDirectory(name);
        Files.writeString(out.resolve(ImageManifest.KERNEL), "kernel " + name);
        Files.writeString(out.resolve(ImageManifest.ROOTFS), "root " + name);
        if (packages != null) {
            Files.writeString(out.resolve(ImagePackages.FILE), packages);
        }
        return store.add(out, name, "v", "x86_64", "recipe", new ImageManifest.Kernel("kiln", "6.1", "r"), null, null);
    }
}
