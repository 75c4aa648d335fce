package dev.kiln.server.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.debian.FakeDebianArchive;
import dev.kiln.testkit.debian.TestArchiveKey;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading Debian's security suite as apt does, from the fake archive on loopback: a signed InRelease checked by the
 * real gpgv, the Packages file verified by the SHA-256 the Release lists, an unchanged index not fetched again.
 */
@Timeout(120)
class SecurityIndexTest {
    private static final String SUITE = "bookworm-security";
    private static final String PACKAGES = "main/binary-amd64/Packages.xz";

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock(Instant.parse("2027-01-10T00:00:00Z"));
    TestArchiveKey key;
    FakeDebianArchive archive;

    @BeforeEach
    void start() {
        key = TestArchiveKey.create(dir, "Kiln test archive");
        archive = FakeDebianArchive.start(clock, key);
        archive.publish(SUITE, "amd64", Map.of("openssl", "3.0.15-1~deb12u1", "libssl3", "3.0.15-1~deb12u1"));
        archive.publish(SUITE, "arm64", Map.of("openssl", "3.0.14-1~deb12u2"));
    }

    @AfterEach
    void stop() {
        archive.close();
        key.close();
    }

    SecurityIndex index(Path keyring) {
        return new SecurityIndex(archive.url(), new InReleaseSignature(keyring, dir.resolve("work")),
                RunnerReleases.defaultClient(), clock);
    }

    @Test
    void readsTheSignedIndexOnceAndAnUnchangedOneCostsA304() {
        SecurityIndex index = index(key.keyring());
        assertThat(index.newest(SUITE, "amd64")).containsEntry("openssl", "3.0.15-1~deb12u1")
                .containsEntry("libssl3", "3.0.15-1~deb12u1").hasSize(2);
        assertThat(index.newest(SUITE, "arm64")).containsExactly(Map.entry("openssl", "3.0.14-1~deb12u2"));
        assertThat(archive.served(SUITE, PACKAGES)).isEqualTo(1);

        // Unchanged: the InRelease answers 304 and the Packages file is not fetched again.
        int notModified = archive.notModified();
        assertThat(index.newest(SUITE, "amd64")).containsEntry("openssl", "3.0.15-1~deb12u1");
        assertThat(archive.notModified()).isEqualTo(notModified + 1);
        assertThat(archive.served(SUITE, PACKAGES)).isEqualTo(1);
        assertThat(archive.served(SUITE, "InRelease")).as("served with its bytes once, then 304").isEqualTo(1);

        // A new update: the new InRelease names another Packages file, which is fetched.
        clock.advance(Duration.ofHours(6));
        archive.publish(SUITE, "amd64", Map.of("openssl", "3.0.17-1~deb12u1", "libssl3", "3.0.17-1~deb12u1"));
        assertThat(index.newest(SUITE, "amd64")).containsEntry("openssl", "3.0.17-1~deb12u1");
        assertThat(archive.served(SUITE, PACKAGES)).isEqualTo(2);
        assertThat(archive.served(SUITE, "Release")).as("the unsigned Release is never read when a keyring is given")
                .isZero();
    }

    @Test
    void aPackagesFileWhoseHashIsNotTheReleasesIsRefused() {
        archive.fault(FakeDebianArchive.Fault.WRONG_HASH);
        assertThatThrownBy(() -> index(key.keyring()).newest(SUITE, "amd64")).isInstanceOf(KilnException.class)
                .hasMessageContaining("/dists/bookworm-security/" + PACKAGES + " has SHA-256 ")
                .hasMessageContaining("but the Release of bookworm-security lists")
                .hasMessageContaining("refused, no image is rebuilt from it");
    }

    @Test
    void anInReleaseSignedByAnotherKeyIsRefused() {
        try (TestArchiveKey other = TestArchiveKey.create(dir, "Someone else")) {
            assertThatThrownBy(() -> index(other.keyring()).newest(SUITE, "amd64")).isInstanceOf(KilnException.class)
                    .hasMessageContaining("/dists/bookworm-security/InRelease is not signed by a key of " + other.keyring());
        }
        assertThat(archive.served(SUITE, PACKAGES)).isZero();
    }

    @Test
    void aReleasePastItsValidUntilIsRefusedAsStale() {
        SecurityIndex index = index(key.keyring());
        clock.advance(Duration.ofDays(8));
        assertThatThrownBy(() -> index.newest(SUITE, "amd64")).isInstanceOf(KilnException.class)
                .hasMessageContaining("was valid until 2027-01-17T00:00:00Z").hasMessageContaining("stale or replayed");
    }

    @Test
    void aSuiteTheArchiveDoesNotHaveOrAnArchiveThatFailsIsSaidSo() {
        SecurityIndex index = index(key.keyring());
        assertThatThrownBy(() -> index.newest("trixie-security", "amd64"))
                .hasMessageContaining("/dists/trixie-security/InRelease answered 404");
        assertThatThrownBy(() -> index.newest(SUITE, "riscv64"))
                .hasMessageContaining("lists no main/binary-riscv64/Packages.xz or Packages.gz");
        archive.fault(FakeDebianArchive.Fault.SERVER_ERROR);
        assertThatThrownBy(() -> index.newest(SUITE, "amd64")).hasMessageContaining("answered 503");
    }

    @Test
    void anArchiveOfGzipIndexesOnlyIsReadToo() {
        archive.withoutXz();
        archive.publish(SUITE, "amd64", Map.of("openssl", "3.0.17-1~deb12u1"));
        assertThat(index(key.keyring()).newest(SUITE, "amd64")).containsExactly(Map.entry("openssl", "3.0.17-1~deb12u1"));
        assertThat(archive.served(SUITE, "main/binary-amd64/Packages.gz")).isEqualTo(1);
        assertThat(archive.served(SUITE, PACKAGES)).isZero();
    }

    @Test
    void withoutAKeyringTheReleaseIsReadUnchecked() {
        SecurityIndex index = new SecurityIndex(archive.url(), null, RunnerReleases.defaultClient(), clock);
        assertThat(index.newest(SUITE, "amd64")).containsEntry("libssl3", "3.0.15-1~deb12u1");
        assertThat(archive.served(SUITE, "Release")).isEqualTo(1);
        assertThat(archive.served(SUITE, "InRelease")).isZero();
        // Still verified by hash: the Release's SHA-256 decides.
        archive.publish(SUITE, "amd64", Map.of("libssl3", "3.0.17-1~deb12u1"));
        archive.fault(FakeDebianArchive.Fault.WRONG_HASH);
        assertThatThrownBy(() -> index.newest(SUITE, "amd64")).hasMessageContaining("refused");
    }
}
