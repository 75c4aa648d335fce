package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.server.images.ImagePipeline;
import dev.kiln.server.images.PipelineConfig;
import dev.kiln.testkit.NetworkLab;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.debian.FakeDebianArchive;
import dev.kiln.testkit.debian.TestArchiveKey;
import dev.kiln.testkit.releases.FakeRunnerReleases;
import dev.kiln.testkit.releases.FakeRunnerReleases.ChecksumIn;
import dev.kiln.testkit.releases.FakeRunnerReleases.Fault;
import dev.kiln.vm.Cidr;
import dev.kiln.vm.EngineConfig;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.ImageBuilder;
import dev.kiln.vm.ImageSmokeTest;
import dev.kiln.vm.QemuDriver;
import dev.kiln.vm.VmEngine;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image pipeline end to end, with real builds and real VMs: a server whose pipeline keeps the runner recipe
 * fresh under a name of the test's own ({@value #NAME}, in a store of its own: the shared names never move), on
 * FakeRunnerReleases serving Kiln's stand-in runner as a numbered release. The name starts on the runner-test image,
 * whose runner GitHub would soon refuse. A second host's agent prefetches from the server. Builds use this host's
 * recipe cache ({@code /var/lib/kiln/cache}: Kiln's kernel and Debian's packages).
 */
@Tag("vm")
@Timeout(1500)
class ImagePipelineRealVmTest {
    static final String NAME = "runner-pipeline-test";
    static final Path RECIPES = Path.of("").toAbsolutePath().getParent().resolve("images");
    static final Path CACHE = Path.of(System.getProperty("kiln.test.cache", "/var/lib/kiln/cache"));

    @TempDir
    Path dir;
    final FakeRunnerReleases releases = FakeRunnerReleases.start();
    final AtomicInteger builds = new AtomicInteger();
    TestingClock clock;
    /** Debian's security archive as the pipeline checks it: never the real one from a test. */
    TestArchiveKey archiveKey;
    FakeDebianArchive archive;
    Path serverState;
    Path secondHost;
    NetworkLab lab;
    TestFleet fleet;
    ImageStore store;
    ImageManifest old;

    @AfterEach
    void close() throws IOException {
        try {
            if (fleet != null) {
                fleet.close();
            }
        } finally {
            releases.close();
            if (archive != null) {
                archive.close();
            }
            if (archiveKey != null) {
                archiveKey.close();
            }
            if (lab != null) {
                lab.close();
            }
            for (Path tree : new Path[] {serverState, secondHost}) {
                if (tree != null) {
                    try (var paths = Files.walk(tree)) {
                        for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                            Files.deleteIfExists(path);
                        }
                    }
                }
            }
        }
    }

    /**
     * The server (its pipeline keeping {@value #NAME}, which names runner-test's digest) and a second host whose
     * agent prefetches into a store of its own. The clock stands 40 days after runner-test's runner was installed.
     */
    void fleet() throws IOException {
        RealHosts.requireImage("runner-test");
        old = new ImageStore(RealHosts.IMAGES).resolve("runner-test");
        clock = new TestingClock(LocalDate.parse(old.runnerInstalledOn()).plusDays(40).atStartOfDay().toInstant(ZoneOffset.UTC));
        // Not under @TempDir: the unprivileged VMM user must reach the images the smoke test boots.
        serverState = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-pipeline-");
        store = new ImageStore(serverState.resolve("images"));
        linkImage(old, serverState.resolve("images"));
        store.moveName(NAME, old.digest());
        lab = NetworkLab.create();
        EngineConfig engineConfig = EngineConfig.defaults().withStateDir(serverState)
                .withNetns(lab.hostNamespace(), Cidr.parse("10.219.0.0/24")).withAccelerator(EngineConfig.Accelerator.TCG);
        VmEngine engine = new VmEngine(engineConfig, new QemuDriver(), store, HostInfo.read(), Clock.systemUTC());
        ImageBuilder builder = new ImageBuilder(RECIPES, store, CACHE);
        ImageSmokeTest smoke = new ImageSmokeTest(engine, Duration.ofMinutes(8));
        PipelineConfig config = PipelineConfig.defaults(List.of(new PipelineConfig.KeptImage("runner", Arch.X86_64, NAME, true)),
                        dir.resolve("pipeline")).withReleases(releases.apiUrl(), null)
                .withTimes(Duration.ofDays(7), Duration.ofHours(1), Duration.ofHours(6), Duration.ofMinutes(30),
                        Duration.ofMillis(200));
        archiveKey = TestArchiveKey.create(dir, "Kiln test archive");
        archive = FakeDebianArchive.start(clock, archiveKey);
        archive.publish("bookworm-security", "amd64", java.util.Map.of());
        config = config.withSecurity(new PipelineConfig.Security(archive.url(), Duration.ofHours(6), archiveKey.keyring()));
        ImagePipeline.Factory pipeline = ImagePipeline.factory(config, (kept, tarball, date, progress) -> {
            builds.incrementAndGet();
            return builder.buildCandidate(kept.recipe(), kept.name(), kept.arch(), tarball, date, progress);
        }, smoke::check);
        // Hosts are never silent here: the test moves the clock by hours, which no agent's sync keeps up with.
        fleet = new TestFleet(dir, c -> c.withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)).withSyncHold(Duration.ofSeconds(1)),
                store, clock, pipeline);
        secondHost = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-pipeline-h2-");
        ImageStore h2 = new ImageStore(secondHost.resolve("images"));
        String token = fleet.client.addHost("h2").enrolmentToken();
        var credentials = Enrolment.credentials(fleet.server.uri(), token, secondHost.resolve("agent"));
        var vmm = new SimulatedVmm(new Capacity(Arch.X86_64, 1, 1536, 64), Duration.ZERO,
                secondHost.resolve("agent").resolve("simulated-vms.json"));
        fleet.run("h2", credentials, vmm, new ImagePrefetch(h2, new ServerImageSource(fleet.server.uri(),
                credentials.hostToken()), Set.of(Arch.X86_64), secondHost.resolve("agent").resolve("prefetched-images"), image -> false));
        // A host that joins holds the kept names' images before its first launch.
        await().atMost(Duration.ofSeconds(120)).until(() -> heldBySecondHost().contains(old.digest()));
    }

    @Test
    void aNewReleaseIsBuiltProvedPrefetchedByTheOtherHostAndOnlyThenNamed() throws Exception {
        fleet();
        assertThat(store.resolve(NAME).runnerAgeWarning(today())).as("runner-test's runner is 40 days old").isPresent();

        releases.publish("2.330.0", Map.of("x64", standIn("2.330.0")), ChecksumIn.DIGEST_FIELD, clock.instant());
        clock.advance(Duration.ofHours(1)); // the next poll of the releases

        await().atMost(Duration.ofSeconds(1200)).until(() -> !store.resolve(NAME).digest().equals(old.digest()));
        ImageManifest built = store.resolve(NAME);
        assertThat(builds).hasValue(1);
        assertThat(built.runnerVersion()).isEqualTo("2.330.0");
        assertThat(heldBySecondHost()).as("h2 prefetched it before the name moved").contains(built.digest());
        assertThat(store.failures()).isEmpty();
        assertThat(built.runnerAgeWarning(today())).as("the rebuild's runner is today's").isEmpty();
        assertThat(releases.downloads()).isEqualTo(1);

        // The release polled again an hour later is the same: nothing is built.
        clock.advance(Duration.ofHours(1));
        int polls = releases.apiCalls();
        await().atMost(Duration.ofSeconds(30)).until(() -> releases.apiCalls() > polls);
        assertThat(builds).hasValue(1);

        // The previous digest stays for a rollback.
        assertThat(store.rollbackDigests()).contains(old.digest());
        assertThat(store.rollback(NAME).digest()).isEqualTo(old.digest());
    }

    @Test
    void aFailingSmokeTestLeavesTheOldImageNamedWithTheReason() throws Exception {
        fleet();
        // A release whose runner answers --version with another version than its tarball's name says.
        releases.publish("2.331.0", Map.of("x64", standIn("2.0.0")), ChecksumIn.BOTH, clock.instant());
        clock.advance(Duration.ofHours(1));

        await().atMost(Duration.ofSeconds(1200)).until(() -> store.failures().getOrDefault(NAME, "").contains("smoke test"));
        assertThat(store.failures().get(NAME)).contains("smoke test of image " + NAME)
                .contains("answers --version with '2.0.0', the image records runner 2.331.0");
        assertThat(store.resolve(NAME).digest()).isEqualTo(old.digest());
        assertThat(builds).hasValue(1);
        // The refused build is not offered to the hosts.
        assertThat(heldBySecondHost()).containsExactly(old.digest());
    }

    @Test
    void aWrongChecksumOrAnUnreachableReleasesServerLeavesTheOldImageAndBuildsNothing() throws Exception {
        fleet();
        releases.publish("2.332.0", Map.of("x64", standIn("2.332.0")), ChecksumIn.BODY, clock.instant());
        releases.fault(Fault.WRONG_CHECKSUM);
        clock.advance(Duration.ofHours(1));

        await().atMost(Duration.ofSeconds(60)).until(() -> store.failures().getOrDefault(NAME, "").contains("2.332.0"));
        assertThat(store.failures().get(NAME)).contains("actions-runner-linux-x64-2.332.0.tar.gz")
                .contains("but runner release 2.332.0 publishes " + FakeRunnerReleases.sha256(standIn("2.332.0")))
                .contains("refused, nothing is built");
        assertThat(builds).hasValue(0);
        assertThat(store.resolve(NAME).digest()).isEqualTo(old.digest());

        releases.close();
        clock.advance(Duration.ofHours(7)); // past the retry of the failed reason, at a poll
        await().atMost(Duration.ofSeconds(60)).until(() -> store.failures().getOrDefault(NAME, "")
                .contains("cannot reach the runner's releases at " + releases.apiUrl()));
        assertThat(builds).hasValue(0);
        assertThat(store.resolve(NAME).digest()).isEqualTo(old.digest());
    }

    private LocalDate today() {
        return LocalDate.ofInstant(clock.instant(), ZoneOffset.UTC);
    }

    private List<String> heldBySecondHost() {
        return new ImageStore(secondHost.resolve("images")).list().stream().map(ImageManifest::digest).toList();
    }

    /** Kiln's stand-in runner as an official tarball's bytes, posing as {@code version}. */
    private byte[] standIn(String version) throws IOException, InterruptedException {
        Path tree = dir.resolve("stand-in-" + version);
        if (!Files.exists(tree)) {
            new ProcessBuilder("cp", "-a", RECIPES.resolve("runner/stand-in").toString(), tree.toString()).inheritIO()
                    .start().waitFor();
            Files.writeString(tree.resolve(".standin-version"), version + "\n");
        }
        Path tarball = dir.resolve("stand-in-" + version + ".tar.gz");
        if (!Files.exists(tarball)) {
            // Reproducible bytes (as bin/test makes them), so that the same version is the same tarball.
            Process tar = new ProcessBuilder("sh", "-c", "tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C \""
                    + tree + "\" -c . | gzip -n > \"" + tarball + "\"").inheritIO().start();
            assertThat(tar.waitFor()).isZero();
        }
        return Files.readAllBytes(tarball);
    }

    /** Puts an image of the shared store into another by hard links (its files are read-only). */
    private static void linkImage(ImageManifest image, Path imagesDir) {
        Path from = RealHosts.IMAGES.resolve(image.digest().replace(':', '-'));
        Path to = imagesDir.resolve(image.digest().replace(':', '-'));
        try {
            Files.createDirectories(to);
            try (var files = Files.list(from)) {
                for (Path file : files.toList()) {
                    Files.createLink(to.resolve(file.getFileName()), file);
                }
            }
            Files.setPosixFilePermissions(to, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
