package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import java.net.URI;
import java.time.Instant;

/**
 * One architecture's tarball of a release of the official runner, as its release publishes it.
 *
 * @param version the release's version without the tag's {@code v} (2.321.0)
 * @param assetName the tarball's name, {@code actions-runner-linux-x64-2.321.0.tar.gz}, which the image build reads the
 *     runner's version from
 * @param sha256 the SHA-256 the release publishes for it (lower-case hex): a download must match it
 */
public record RunnerRelease(String version, Arch arch, String assetName, URI download, long size, String sha256,
        Instant publishedAt) {
    public RunnerRelease {
        requireNonNull(version, "version is null");
        requireNonNull(arch, "arch is null");
        requireNonNull(assetName, "assetName is null");
        requireNonNull(download, "download is null");
        requireNonNull(sha256, "sha256 is null");
        requireNonNull(publishedAt, "publishedAt is null");
    }

    /** The runner's name for an architecture in its assets' names: x64, arm64. */
    static String runnerArch(Arch arch) {
        return switch (arch) {
            case X86_64 -> "x64";
            case ARM64 -> "arm64";
            case ANY -> throw new IllegalArgumentException("a runner tarball is of x86_64 or arm64, not any");
        };
    }
}
