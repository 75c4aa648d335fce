package dev.kiln.server.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImagePackages;
import dev.kiln.images.ImageStore;
import dev.kiln.server.Database;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.debian.FakeDebianArchive;
import dev.kiln.testkit.debian.TestArchiveKey;
import dev.kiln.testkit.releases.FakeRunnerReleases;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rebuilds on Debian's security updates, on a real server (SQLite; PostgreSQL in
 * {@link PostgresImagePipelineSecurityTest}) with the fake security archive signed by a test key: a build is due
 * exactly when the security suite has a newer version of a package the image holds, the build records why, an
 * unchanged index is not fetched again, and a refused index is shown and builds nothing. The builds store small
 * stand-in images whose package list is what the archive offered when they were "built", as a real build's upgrade
 * takes it.
 */
@Timeout(120)
class ImagePipelineSecurityTest {
    private static final String ADMIN = "pipeline-admin-token-0123456789";
    private static final String NAME = "default-kept";
    private static final String SUITE = "bookworm-security";
    private static final String PACKAGES = "main/binary-amd64/Packages.xz";
    /** The image's packages as bootstrapped from the suite (before its security updates). */
    private static final Map<String, String> RELEASED = Map.of("openssl", "3.0.15-1~deb12u1", "libssl3",
            "3.0.15-1~deb12u1", "bash", "5.2.15-2+b7", "sudo", "1.9.13p3-1+deb12u1");

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock(Instant.parse("2027-01-10T00:00:00Z"));
    final FakeRunnerReleases releases = FakeRunnerReleases.start();
    final AtomicInteger builds = new AtomicInteger();
    /** The security suite as the archive publishes it; a build upgrades the image's packages to it. */
    final Map<String, String> security = new TreeMap<>();
    /** Whether the builds miss the security suite's updates (their mirror lagging the one checked). */
    volatile boolean buildsLag;
    Duration retryAfter = Duration.ofHours(6);
    TestArchiveKey key;
    FakeDebianArchive archive;
    ImageStore store;
    KilnServer server;
    Database db;
    AgentClient host;
    long sequence;

    @AfterEach
    void close() {
        if (server != null) {
            server.close();
        }
        if (archive != null) {
            archive.close();
        }
        if (key != null) {
            key.close();
        }
        releases.close();
    }

    String databaseUrl() {
        return "jdbc:sqlite:" + dir.resolve("kiln.db");
    }

    /** The server with a kept image of the default recipe, its first build moved to once the host holds it. */
    private String startWithTheFirstBuild() {
        key = TestArchiveKey.create(dir, "Kiln test archive");
        archive = FakeDebianArchive.start(clock, key);
        publish(Map.of("openssl", "3.0.15-1~deb12u1"));
        store = new ImageStore(dir.resolve("images"));
        PipelineConfig config = PipelineConfig.defaults(List.of(new PipelineConfig.KeptImage("default", Arch.X86_64, NAME,
                        false)), dir.resolve("pipeline")).withReleases(releases.apiUrl(), null)
                .withTimes(Duration.ofDays(7), Duration.ofHours(1), retryAfter, Duration.ofMinutes(30),
                        Duration.ofMillis(20))
                .withSecurity(new PipelineConfig.Security(archive.url(), Duration.ofHours(6), key.keyring()));
        ImagePipeline.Factory pipeline = ImagePipeline.factory(config, this::build, image -> image.name() + " booted");
        ImagePipeline.Factory capturing = (database, serverClock, images) -> {
            db = database;
            return pipeline.create(database, serverClock, images);
        };
        server = KilnServer.start(ServerConfig.defaults(databaseUrl(), ADMIN).withListen("127.0.0.1", 0)
                .withLiveness(Duration.ofDays(30), Duration.ofSeconds(1)).withSyncHold(Duration.ZERO), clock, store,
                List.of(), capturing, null);
        String token = new KilnClient(server.uri(), ADMIN).addHost("h1").enrolmentToken();
        host = new AgentClient(server.uri(), AgentClient.enrol(server.uri(), token).hostToken());
        return moved(1);
    }

    /** Waits for build {@code n} to be offered, has the host hold it, and waits for the name to move to it. */
    private String moved(int n) {
        await().atMost(Duration.ofSeconds(30)).until(() -> builds.get() == n && build(n).isPresent()
                && report().contains(build(n).get().digest()));
        String digest = build(n).orElseThrow().digest();
        List<String> held = store.list().stream().map(ImageManifest::digest).toList();
        host.sync(new AgentReport("boot1", ++sequence, "test", "x86_64", 2, 4096, 50, null, List.of(), List.of(), held),
                Duration.ZERO);
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).map(ImageManifest::digest)
                .orElse("").equals(digest));
        return digest;
    }

    private java.util.Optional<ImageManifest> build(int n) {
        return store.list().stream().filter(image -> image.version().equals("test-" + n)).findFirst();
    }

    private List<String> report() {
        return host.sync(new AgentReport("boot1", ++sequence, "test", "x86_64", 2, 4096, 50, null, List.of(), List.of(),
                List.of()), Duration.ZERO).prefetch();
    }

    private void publish(Map<String, String> updates) {
        security.putAll(updates);
        archive.publish(SUITE, "amd64", security);
    }

    /** A stand-in build: the released packages, upgraded to what the security suite has now. */
    private ImageManifest build(PipelineConfig.KeptImage kept, Path tarball, LocalDate day, PrintStream progress) {
        int n = builds.incrementAndGet();
        try {
            Path out = store.newBuildDirectory(kept.recipe());
            Files.writeString(out.resolve(ImageManifest.KERNEL), "kernel " + n);
            Files.writeString(out.resolve(ImageManifest.ROOTFS), "root " + n);
            StringBuilder packages = new StringBuilder("suite bookworm\ndebian-arch amd64\n");
            new TreeMap<>(RELEASED).forEach((name, version) -> packages.append("package ").append(name).append(" amd64 ")
                    .append(buildsLag ? version : security.getOrDefault(name, version)).append('\n'));
            Files.writeString(out.resolve(ImagePackages.FILE), packages);
            return store.store(out, kept.name(), "test-" + n, kept.arch().id(), "recipe-" + n,
                    new ImageManifest.Kernel("kiln", "6.1", "r"), null, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private BuildRecords.Build lastBuild() {
        return new BuildRecords(db).last(NAME).orElseThrow();
    }

    @Test
    void aNewerSecurityVersionOfAHeldPackageRebuildsTheImageSayingWhyAndNothingElseDoes() {
        startWithTheFirstBuild();
        assertThat(store.packages(store.findByName(NAME).orElseThrow()).orElseThrow().versions())
                .containsEntry("openssl", "3.0.15-1~deb12u1");
        int fetched = archive.served(SUITE, PACKAGES);

        // Within the poll interval nothing is asked; after it, an unchanged index costs a 304 and builds nothing.
        clock.advance(Duration.ofHours(5));
        report();
        int notModified = archive.notModified();
        clock.advance(Duration.ofHours(1));
        await().atMost(Duration.ofSeconds(30)).until(() -> archive.notModified() > notModified);
        // An update of a package the image does not hold, and one of a version the image already has: no build.
        publish(Map.of("nginx", "1.22.1-9+deb12u2", "bash", "5.2.15-2+b7"));
        clock.advance(Duration.ofHours(6));
        await().atMost(Duration.ofSeconds(30)).until(() -> archive.served(SUITE, PACKAGES) == fetched + 1);
        clock.advance(Duration.ofHours(6));
        await().atMost(Duration.ofSeconds(30)).until(() -> archive.notModified() > notModified + 1);
        assertThat(builds).hasValue(1);
        assertThat(archive.served(SUITE, PACKAGES)).as("an unchanged index is not fetched again").isEqualTo(fetched + 1);

        // openssl's fix is published: the next poll rebuilds, and the build record says why.
        publish(Map.of("openssl", "3.0.17-1~deb12u1", "libssl3", "3.0.17-1~deb12u1"));
        clock.advance(Duration.ofHours(6));
        String rebuilt = moved(2);
        assertThat(lastBuild().trigger()).isEqualTo("security update: libssl3 3.0.15-1~deb12u1 → 3.0.17-1~deb12u1,"
                + " openssl 3.0.15-1~deb12u1 → 3.0.17-1~deb12u1");
        assertThat(lastBuild().outcome()).isEqualTo(BuildRecords.MOVED);
        assertThat(store.packages(store.findByName(NAME).orElseThrow()).orElseThrow().versions())
                .containsEntry("openssl", "3.0.17-1~deb12u1");

        // The rebuilt image holds the fix: later polls build nothing more.
        clock.advance(Duration.ofHours(6));
        int after = archive.notModified();
        await().atMost(Duration.ofSeconds(30)).until(() -> archive.notModified() > after);
        assertThat(builds).hasValue(2);
        assertThat(store.findByName(NAME).orElseThrow().digest()).isEqualTo(rebuilt);
    }

    @Test
    void aBuildThatStillLacksTheUpdateIsNotRepeatedAtEveryPollButAfterRetryAfter() {
        retryAfter = Duration.ofHours(24);
        startWithTheFirstBuild();
        buildsLag = true;
        publish(Map.of("openssl", "3.0.17-1~deb12u1"));
        clock.advance(Duration.ofHours(6));
        moved(2);
        assertThat(store.packages(store.findByName(NAME).orElseThrow()).orElseThrow().versions())
                .containsEntry("openssl", "3.0.15-1~deb12u1");

        // The next polls still see the update missing: the same reason is not built again within retry-after.
        for (int poll = 0; poll < 2; poll++) {
            int notModified = archive.notModified();
            clock.advance(Duration.ofHours(6));
            await().atMost(Duration.ofSeconds(30)).until(() -> archive.notModified() > notModified);
        }
        assertThat(builds).hasValue(2);

        buildsLag = false;
        clock.advance(Duration.ofHours(12));
        moved(3);
        assertThat(store.packages(store.findByName(NAME).orElseThrow()).orElseThrow().versions())
                .containsEntry("openssl", "3.0.17-1~deb12u1");
    }

    @Test
    void aSecurityIndexWithABadHashIsRefusedShownAndBuildsNothing() {
        String first = startWithTheFirstBuild();

        archive.fault(FakeDebianArchive.Fault.WRONG_HASH);
        publish(Map.of("openssl", "3.0.17-1~deb12u1"));
        clock.advance(Duration.ofHours(6));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.failures().containsKey(NAME));
        assertThat(store.failures().get(NAME)).contains("cannot check Debian's security updates:")
                .contains("has SHA-256").contains("but the Release of bookworm-security lists")
                .contains("refused, no image is rebuilt from it");
        assertThat(builds).hasValue(1);
        assertThat(store.findByName(NAME).orElseThrow().digest()).isEqualTo(first);

        // Once the mirror serves what its Release lists, the next poll builds.
        archive.fault(FakeDebianArchive.Fault.NONE);
        clock.advance(Duration.ofHours(6));
        moved(2);
        assertThat(lastBuild().trigger()).isEqualTo("security update: openssl 3.0.15-1~deb12u1 → 3.0.17-1~deb12u1");
        assertThat(store.failures()).as("a good build clears the failure").isEmpty();
    }

    @Test
    void theSecurityKeysAreReadAndCheckedWithTheOthers() throws Exception {
        Properties bad = new Properties();
        bad.load(new StringReader("keep = default\nsecurity-mirror = mirror\nsecurity-poll = often\n"
                + "security-keyring = " + dir.resolve("nosuch.gpg") + "\nsecurity-pol = 1h\n"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PipelineConfig.read(bad, List.of("default"), dir))
                .hasMessageContaining("4 problem(s)")
                .hasMessageContaining("security-mirror: 'mirror' is not an http(s) URL")
                .hasMessageContaining("security-poll: 'often' is not a duration")
                .hasMessageContaining("security-keyring: " + dir.resolve("nosuch.gpg") + " is not a readable keyring")
                .hasMessageContaining("unknown key 'security-pol' (did you mean security-poll?)");

        Properties good = new Properties();
        good.load(new StringReader("keep = default\nsecurity-mirror = http://mirror.example/debian-security\n"
                + "security-poll = 2h\nsecurity-keyring = none\n"));
        PipelineConfig.Security security = PipelineConfig.read(good, List.of("default"), dir).security();
        assertThat(security.mirror()).hasToString("http://mirror.example/debian-security");
        assertThat(security.poll()).isEqualTo(Duration.ofHours(2));
        assertThat(security.keyring()).isNull();

        Properties defaults = new Properties();
        defaults.load(new StringReader("keep = default\n"));
        PipelineConfig.Security standard = PipelineConfig.read(defaults, List.of("default"), dir).security();
        assertThat(standard).isEqualTo(new PipelineConfig.Security(PipelineConfig.Security.DEBIAN, Duration.ofHours(6),
                PipelineConfig.Security.DEBIAN_KEYRING));
    }
}
