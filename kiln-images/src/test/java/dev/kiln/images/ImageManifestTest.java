package dev.kiln.images;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDate;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ImageManifestTest {
    private static ImageManifest withRunnerInstalledOn(String day) {
        var entry = new ImageManifest.FileEntry("0".repeat(64), 1);
        return new ImageManifest("runner", "1", "x86_64", "sha256:" + "a".repeat(64), "r",
                new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "0123456789abcdef"),
                Map.of(ImageManifest.KERNEL, entry, ImageManifest.INITRD, entry, ImageManifest.ROOTFS, entry),
                day == null ? null : "2.321.0", day);
    }

    @Test
    void warnsWhenTheRunnerNearsGithubsThirtyDayCutOff() {
        LocalDate today = LocalDate.parse("2026-11-29");
        assertThat(withRunnerInstalledOn("2026-11-10").runnerAgeWarning(today)).isEmpty();
        assertThat(withRunnerInstalledOn("2026-11-06").runnerAgeWarning(today)).hasValueSatisfying(warning ->
                assertThat(warning).contains("actions runner 2.321.0, installed 23 days ago")
                        .contains("kiln image build runner --force --runner-tarball"));
        assertThat(withRunnerInstalledOn(null).runnerAgeWarning(today)).isEmpty();
    }
}
