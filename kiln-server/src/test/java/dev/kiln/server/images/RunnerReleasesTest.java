package dev.kiln.server.images;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.releases.FakeRunnerReleases;
import dev.kiln.testkit.releases.FakeRunnerReleases.ChecksumIn;
import dev.kiln.testkit.releases.FakeRunnerReleases.Fault;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

@Timeout(60)
class RunnerReleasesTest {
    private static final Instant PUBLISHED = Instant.parse("2026-11-20T10:00:00Z");
    private static final byte[] X64 = "x64 runner tarball".getBytes(UTF_8);
    private static final byte[] ARM64 = "arm64 runner tarball".getBytes(UTF_8);

    private final FakeRunnerReleases fake = FakeRunnerReleases.start();
    private final RunnerReleases releases = new RunnerReleases(fake.apiUrl(), null, RunnerReleases.defaultClient());

    @TempDir
    Path dir;

    @AfterEach
    void close() {
        fake.close();
    }

    @ParameterizedTest
    @EnumSource(ChecksumIn.class)
    void readsTheTarballOfEachArchWithTheChecksumWhereverTheReleasePublishesIt(ChecksumIn where) throws Exception {
        fake.publish("2.321.0", Map.of("x64", X64, "arm64", ARM64), where, PUBLISHED);

        RunnerRelease x64 = releases.latest(Arch.X86_64);
        RunnerRelease arm64 = releases.latest(Arch.ARM64);

        assertThat(x64.version()).isEqualTo("2.321.0");
        assertThat(x64.assetName()).isEqualTo("actions-runner-linux-x64-2.321.0.tar.gz");
        assertThat(x64.sha256()).isEqualTo(FakeRunnerReleases.sha256(X64));
        assertThat(x64.publishedAt()).isEqualTo(PUBLISHED);
        assertThat(arm64.assetName()).isEqualTo("actions-runner-linux-arm64-2.321.0.tar.gz");
        assertThat(arm64.sha256()).isEqualTo(FakeRunnerReleases.sha256(ARM64));
        Path tarball = releases.download(x64, dir);
        assertThat(tarball.getFileName().toString()).isEqualTo("actions-runner-linux-x64-2.321.0.tar.gz");
        assertThat(Files.readAllBytes(tarball)).isEqualTo(X64);
    }

    @Test
    void aDownloadThatDoesNotMatchThePublishedChecksumIsRefusedAndNotKept() throws Exception {
        fake.publish("2.321.0", Map.of("x64", X64), ChecksumIn.BOTH, PUBLISHED);
        RunnerRelease release = releases.latest(Arch.X86_64);
        fake.fault(Fault.WRONG_CHECKSUM);

        assertThatThrownBy(() -> releases.download(release, dir)).isInstanceOf(KilnException.class)
                .hasMessageContaining("actions-runner-linux-x64-2.321.0.tar.gz")
                .hasMessageContaining("publishes " + FakeRunnerReleases.sha256(X64))
                .hasMessageContaining("refused, nothing is built");
        try (var left = Files.list(dir)) {
            assertThat(left).isEmpty();
        }
    }

    @Test
    void aMirrorServesTheTarballsTheApiDescribes() throws Exception {
        fake.publish("2.321.0", Map.of("x64", X64), ChecksumIn.BODY, PUBLISHED);
        var mirrored = new RunnerReleases(fake.apiUrl(), URI.create(fake.downloadUrl() + "/"), RunnerReleases.defaultClient());

        RunnerRelease release = mirrored.latest(Arch.X86_64);

        assertThat(release.download().toString()).isEqualTo(fake.downloadUrl() + "/v2.321.0/actions-runner-linux-x64-2.321.0.tar.gz");
        assertThat(Files.readAllBytes(mirrored.download(release, dir))).isEqualTo(X64);
    }

    @Test
    void serverErrorsAndAnUnreachableServerAreSaidAsSuch() {
        fake.fault(Fault.SERVER_ERROR);
        assertThatThrownBy(() -> releases.latest(Arch.X86_64)).isInstanceOf(KilnException.class)
                .hasMessageContaining("answered 503").extracting(e -> ((KilnException) e).code())
                .isEqualTo(ErrorCode.UPSTREAM_FAILED);
        fake.close();
        assertThatThrownBy(() -> releases.latest(Arch.X86_64)).isInstanceOf(KilnException.class)
                .hasMessageContaining("cannot reach the runner's releases at " + fake.apiUrl())
                .extracting(e -> ((KilnException) e).code()).isEqualTo(ErrorCode.UNAVAILABLE);
    }

    @Test
    void aReleaseWithoutAChecksumOrWithTwoThatDisagreeIsRefused() {
        String asset = """
                {"name": "actions-runner-linux-x64-2.321.0.tar.gz", "size": 3, "digest": %s,
                 "browser_download_url": "https://github.com/actions/runner/releases/download/v2.321.0/actions-runner-linux-x64-2.321.0.tar.gz"}""";
        String none = "{\"tag_name\": \"v2.321.0\", \"published_at\": \"2026-11-20T10:00:00Z\", \"body\": \"notes\", \"assets\": ["
                + asset.formatted("null") + "]}";
        String a = "a".repeat(64);
        String b = "b".repeat(64);
        String disagree = ("{\"tag_name\": \"v2.321.0\", \"published_at\": \"2026-11-20T10:00:00Z\", \"body\":"
                + " \"<!-- BEGIN SHA linux-x64 -->%s<!-- END SHA linux-x64 -->\", \"assets\": [" + asset.formatted("\"sha256:" + a + "\"")
                + "]}").formatted(b);
        URI from = URI.create("https://api.github.com/repos/actions/runner/releases/latest");

        assertThatThrownBy(() -> RunnerReleases.parse(from, none.getBytes(UTF_8), Arch.X86_64, null))
                .hasMessageContaining("publishes no SHA-256 for actions-runner-linux-x64-2.321.0.tar.gz");
        assertThatThrownBy(() -> RunnerReleases.parse(from, disagree.getBytes(UTF_8), Arch.X86_64, null))
                .hasMessageContaining("two SHA-256s").hasMessageContaining(a).hasMessageContaining(b);
        assertThatThrownBy(() -> RunnerReleases.parse(from, "[]".getBytes(UTF_8), Arch.X86_64, null))
                .hasMessageContaining("tag_name ''");
        assertThatThrownBy(() -> RunnerReleases.parse(from, none.getBytes(UTF_8), Arch.ARM64, null))
                .hasMessageContaining("no asset actions-runner-linux-arm64-2.321.0.tar.gz");
    }
}
