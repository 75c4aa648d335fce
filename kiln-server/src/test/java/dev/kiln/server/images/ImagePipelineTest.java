package dev.kiln.server.images;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.KilnClient;
import dev.kiln.api.SyncAnswer;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.releases.FakeRunnerReleases;
import dev.kiln.testkit.releases.FakeRunnerReleases.ChecksumIn;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The pipeline's decisions on a real server (SQLite) with the fake releases server: when it builds, that a proven
 * build's name waits for the hosts to prefetch it, that failures keep the old digest and are retried only after a
 * while. The builds here store small stand-in images in a real store; {@code ImagePipelineRealVmTest} (kiln-agent)
 * builds and boots real ones.
 */
@Timeout(120)
class ImagePipelineTest {
    private static final String ADMIN = "pipeline-admin-token-0123456789";
    private static final String NAME = "runner-kept";

    @TempDir
    Path dir;
    final TestingClock clock = new TestingClock(Instant.parse("2027-01-10T00:00:00Z"));
    final FakeRunnerReleases releases = FakeRunnerReleases.start();
    final AtomicInteger builds = new AtomicInteger();
    /** What the smoke test says of the next builds: null passes. */
    final AtomicReference<String> smokeFails = new AtomicReference<>();
    /** The longest the server holds a sync: none but where a test holds one. */
    Duration syncHold = Duration.ZERO;
    ImageStore store;
    KilnServer server;
    AgentClient host;
    long sequence;

    @AfterEach
    void close() {
        if (server != null) {
            server.close();
        }
        releases.close();
    }

    void start() {
        store = new ImageStore(dir.resolve("images"));
        PipelineConfig config = PipelineConfig.defaults(List.of(new PipelineConfig.KeptImage("runner", Arch.X86_64, NAME, true)),
                dir.resolve("pipeline")).withReleases(releases.apiUrl(), null)
                .withTimes(Duration.ofDays(7), Duration.ofHours(1), Duration.ofHours(6), Duration.ofMinutes(30), Duration.ofMillis(20));
        ImagePipeline.Factory pipeline = ImagePipeline.factory(config, this::build, image -> {
            String why = smokeFails.get();
            if (why != null) {
                throw new KilnException(ErrorCode.IMAGE_BUILD_FAILED, "smoke test of " + image.name() + " failed: " + why);
            }
            return image.name() + " booted";
        });
        ServerConfig server = ServerConfig.defaults(databaseUrl(), ADMIN).withListen("127.0.0.1", 0)
                .withLiveness(Duration.ofDays(30), Duration.ofSeconds(1)).withSyncHold(syncHold);
        this.server = KilnServer.start(server, clock, store, List.of(), pipeline, null);
        String token = new KilnClient(this.server.uri(), ADMIN).addHost("h1").enrolmentToken();
        host = new AgentClient(this.server.uri(), AgentClient.enrol(this.server.uri(), token).hostToken());
    }

    /** The store the server runs on: SQLite here, PostgreSQL in {@link PostgresImagePipelineTest}. */
    String databaseUrl() {
        return "jdbc:sqlite:" + dir.resolve("kiln.db");
    }

    /** A small image standing in for a build: its bytes differ per build, its runner is the tarball's. */
    private ImageManifest build(PipelineConfig.KeptImage kept, Path tarball, java.time.LocalDate day, java.io.PrintStream progress) {
        int n = builds.incrementAndGet();
        try {
            Path out = store.newBuildDirectory(kept.recipe());
            Files.writeString(out.resolve(ImageManifest.KERNEL), "kernel " + n);
            Files.writeString(out.resolve(ImageManifest.ROOTFS), "root " + n + " with " + Files.readString(tarball));
            String runner = tarball.getFileName().toString().replaceAll("actions-runner-linux-x64-(.*)\\.tar\\.gz", "$1");
            progress.println("built " + n);
            return store.store(out, kept.name(), "test-" + n, kept.arch().id(), "recipe-" + n,
                    new ImageManifest.Kernel("kiln", "6.1", "r"), runner, day.toString());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** The host reports holding these digests; the answer's prefetch list. */
    private List<String> report(List<String> images) {
        SyncAnswer answer = host.sync(new AgentReport("boot1", ++sequence, "test", "x86_64", 2, 4096, 50, null, List.of(),
                List.of(), images), Duration.ZERO);
        return answer.prefetch();
    }

    /** The server, the host's first report, then the first release, seen at the next poll. */
    private void startWithTheFirstRelease() {
        start();
        report(List.of());
        publish("2.330.0");
        clock.advance(Duration.ofHours(1));
    }

    /** The first release built, offered, held by the host and named: its digest. */
    private String firstMoved() {
        startWithTheFirstRelease();
        await().atMost(Duration.ofSeconds(30)).until(() -> !report(List.of()).isEmpty());
        String first = report(List.of()).getFirst();
        report(List.of(first));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).isPresent());
        return first;
    }

    private void publish(String version) {
        releases.publish(version, Map.of("x64", ("runner " + version).getBytes(UTF_8)), ChecksumIn.BOTH, clock.instant());
    }

    @Test
    void aProvenBuildIsOfferedToTheHostsAndNamedOnceTheyHoldIt() {
        startWithTheFirstRelease();

        // Built and proven, offered to the host, which does not hold it yet: the name waits.
        await().atMost(Duration.ofSeconds(30)).until(() -> !report(List.of()).isEmpty());
        String digest = report(List.of()).getFirst();
        assertThat(store.findByName(NAME)).isEmpty();
        assertThat(builds).hasValue(1);

        report(List.of(digest));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).isPresent());
        assertThat(store.findByName(NAME).orElseThrow().digest()).isEqualTo(digest);
        assertThat(store.findByName(NAME).orElseThrow().runnerVersion()).isEqualTo("2.330.0");
        // The current digest stays on offer, for a host that joins later.
        assertThat(report(List.of(digest))).containsExactly(digest);

        // A week later by the server's clock the schedule rebuilds it, although no runner was released.
        clock.advance(Duration.ofDays(7));
        await().atMost(Duration.ofSeconds(30)).until(() -> report(List.of(digest)).size() == 2);
        String weekly = report(List.of(digest)).get(0).equals(digest) ? report(List.of(digest)).get(1) : report(List.of(digest)).get(0);
        assertThat(store.findByName(NAME).orElseThrow().digest()).as("not before the host holds it").isEqualTo(digest);
        report(List.of(digest, weekly));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).orElseThrow().digest().equals(weekly));
        assertThat(builds).hasValue(2);
        assertThat(store.rollback(NAME).digest()).isEqualTo(digest);
    }

    @Test
    void aHostThatNeverFetchesHoldsTheNameBackOnlyUntilTheRolloutTimesOut() {
        startWithTheFirstRelease();
        await().atMost(Duration.ofSeconds(30)).until(() -> !report(List.of()).isEmpty());

        clock.advance(Duration.ofMinutes(29));
        report(List.of());
        assertThat(store.findByName(NAME)).isEmpty();
        clock.advance(Duration.ofMinutes(1));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).isPresent());
    }

    @Test
    void aFailedSmokeTestKeepsTheOldDigestAndIsTriedAgainOnlyAfterRetryAfter() {
        String first = firstMoved();

        smokeFails.set("dockerd did not answer");
        publish("2.331.0");
        clock.advance(Duration.ofHours(1));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.failures().containsKey(NAME));
        assertThat(store.failures().get(NAME)).contains("smoke test of " + NAME + " failed: dockerd did not answer");
        assertThat(store.findByName(NAME).orElseThrow().digest()).isEqualTo(first);
        assertThat(report(List.of(first))).as("a refused build is offered to no host").containsExactly(first);
        assertThat(builds).hasValue(2);

        // Polled again within retryAfter: not rebuilt for the same reason.
        clock.advance(Duration.ofHours(1));
        int polls = releases.apiCalls();
        await().atMost(Duration.ofSeconds(30)).until(() -> releases.apiCalls() > polls);
        assertThat(builds).hasValue(2);

        assertThat(store.list()).extracting(ImageManifest::version).contains("test-2");

        smokeFails.set(null);
        clock.advance(Duration.ofHours(5));
        await().atMost(Duration.ofSeconds(30)).until(() -> report(List.of(first)).size() == 2);
        assertThat(builds).hasValue(3);
        String fixed = report(List.of(first)).stream().filter(d -> !d.equals(first)).findFirst().orElseThrow();
        report(List.of(first, fixed));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).orElseThrow().digest().equals(fixed));
        assertThat(store.failures()).as("a good build clears the failure").isEmpty();
        // The refused build is removed once a name moved; the rollback's stays.
        await().atMost(Duration.ofSeconds(30)).until(() -> store.list().stream().map(ImageManifest::version)
                .sorted().toList().equals(List.of("test-1", "test-3")));
        assertThat(report(List.of(first, fixed))).containsExactlyInAnyOrder(first, fixed);
    }

    @Test
    void aRunnerImageDueByTheScheduleWaitsForTheReleasesToAnswerRatherThanBeBuiltWithoutItsRunner() {
        String first = firstMoved();

        releases.fault(FakeRunnerReleases.Fault.SERVER_ERROR);
        clock.advance(Duration.ofDays(7));
        report(List.of(first));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.failures().getOrDefault(NAME, "").contains("answered 503"));
        assertThat(builds).hasValue(1);

        releases.fault(FakeRunnerReleases.Fault.NONE);
        clock.advance(Duration.ofHours(1));
        report(List.of(first));
        await().atMost(Duration.ofSeconds(30)).until(() -> builds.get() == 2);
        await().atMost(Duration.ofSeconds(30)).until(() -> report(List.of(first)).size() == 2);
        String weekly = report(List.of(first)).stream().filter(d -> !d.equals(first)).findFirst().orElseThrow();
        report(List.of(first, weekly));
        await().atMost(Duration.ofSeconds(30)).until(() -> store.findByName(NAME).orElseThrow().digest().equals(weekly));
        assertThat(store.findByName(NAME).orElseThrow().runnerVersion()).isEqualTo("2.330.0");
    }

    @Test
    @Timeout(60)
    void aNewOfferWakesTheHostsHeldSyncs() throws Exception {
        syncHold = Duration.ofSeconds(50);
        start();
        SyncAnswer idle = host.sync(new AgentReport("boot1", ++sequence, "test", "x86_64", 2, 4096, 50, null, List.of(),
                List.of(), List.of()), Duration.ZERO);
        assertThat(idle.prefetch()).isEmpty();
        var held = java.util.concurrent.CompletableFuture.supplyAsync(() -> host.sync(new AgentReport("boot1", ++sequence,
                "test", "x86_64", 2, 4096, 50, idle.desiredVersion(), List.of(), List.of(), List.of()), syncHold));
        publish("2.330.0");
        clock.advance(Duration.ofHours(1));

        // Answered once the build is offered, well before the 50 s hold ends.
        SyncAnswer woken = held.get(30, java.util.concurrent.TimeUnit.SECONDS);
        assertThat(woken.prefetch()).hasSize(1);
        assertThat(woken.desiredVersion()).isNotEqualTo(idle.desiredVersion());
        assertThat(woken.generation()).isGreaterThan(idle.generation());
    }

    @Test
    void aReportOfImagesThatAreNotDigestsIsRefused() {
        start();
        assertThatThrownBy(() -> report(List.of("sha256:" + "a".repeat(64), "default")))
                .isInstanceOf(KilnException.class).hasMessageContaining("images: 'default' is not sha256:");
        assertThat(report(List.of("sha256:" + "a".repeat(64)))).isEmpty();
    }

    @Test
    void theConfigurationListsEveryProblemAtOnce() throws Exception {
        Properties properties = new Properties();
        properties.load(new StringReader("""
                keep = runner, runner/sparc, nosuch, runner
                schedule = weekly
                releases-api = ftp://mirror
                rellease-poll = 1h
                """));
        assertThatThrownBy(() -> PipelineConfig.read(properties, List.of("default", "runner"), dir))
                .hasMessageContaining("6 problem(s)").hasMessageContaining("'runner/sparc' names arch 'sparc'")
                .hasMessageContaining("'nosuch' names no recipe").hasMessageContaining("'runner' is listed twice")
                .hasMessageContaining("schedule: 'weekly' is not a duration")
                .hasMessageContaining("releases-api: 'ftp://mirror' is not an http(s) URL")
                .hasMessageContaining("unknown key 'rellease-poll' (did you mean release-poll?)");

        Properties good = new Properties();
        good.load(new StringReader("keep = runner, runner/arm64, default\nschedule = 3d\ndownload-url = https://mirror.example/runner\n"));
        PipelineConfig config = PipelineConfig.read(good, List.of("default", "runner"), dir);
        assertThat(config.images()).extracting(PipelineConfig.KeptImage::name).containsExactly("runner", "runner-arm64", "default");
        assertThat(config.images()).extracting(PipelineConfig.KeptImage::runner).containsExactly(true, true, false);
        assertThat(config.schedule()).isEqualTo(Duration.ofDays(3));
        assertThat(config.releasePoll()).isEqualTo(Duration.ofHours(1));
        assertThat(config.downloadUrl()).hasToString("https://mirror.example/runner");
    }
}
