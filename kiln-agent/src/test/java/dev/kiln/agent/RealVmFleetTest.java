package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobState;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import dev.kiln.core.Arch;
import dev.kiln.testkit.Leftovers;
import dev.kiln.testkit.NetworkLab;
import dev.kiln.vm.Cidr;
import dev.kiln.vm.EngineConfig;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.ImageManifest;
import dev.kiln.vm.ImageStore;
import dev.kiln.vm.QemuDriver;
import dev.kiln.vm.VmEngine;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane with real VMs: a real server and two agents driving the real engine, each
 * host's VM networking in a network namespace lab of its own. Jobs are scheduled across both
 * hosts, boot, run, report their output and exit codes, and leave nothing behind.
 */
@Tag("vm")
@Timeout(300)
class RealVmFleetTest {
    static final Path IMAGES = Path.of(System.getProperty("kiln.test.images", "/var/lib/kiln/images"));

    @TempDir
    Path dir;
    private TestFleet fleet;
    private final List<NetworkLab> labs = new ArrayList<>();
    private final List<Path> states = new ArrayList<>();

    @AfterEach
    void stop() {
        try {
            if (fleet != null) {
                fleet.close();
            }
        } finally {
            labs.forEach(NetworkLab::close);
            for (Path state : states) {
                try (var paths = Files.walk(state)) {
                    for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                        Files.deleteIfExists(path);
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
        }
    }

    /** A host whose agent runs real VMs: room for one 1 GiB VM at a time. */
    private void realHost(String name, int slot) throws IOException {
        realHost(name, slot, false);
    }

    /** @param fetchImages the host starts with no images and fetches them from the server */
    private Path realHost(String name, int slot, boolean fetchImages) throws IOException {
        if (!Files.exists(IMAGES.resolve("names/default"))) {
            throw new AssertionError("needs the default image in " + IMAGES + ": run `bin/kiln image build default`");
        }
        NetworkLab lab = NetworkLab.create();
        labs.add(lab);
        // Not under @TempDir: the unprivileged VMM user must be able to reach the state directory.
        Path state = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-fleet-" + name + "-");
        states.add(state);
        if (!fetchImages) {
            Files.createSymbolicLink(state.resolve("images"), IMAGES);
        }
        EngineConfig config = EngineConfig.defaults().withStateDir(state)
                .withNetns(lab.hostNamespace(), Cidr.parse("10.21" + slot + ".0.0/24"))
                .withAccelerator(EngineConfig.Accelerator.TCG);
        ImageStore images = new ImageStore(state.resolve("images"));
        VmEngine engine = new VmEngine(config, new QemuDriver(), images, HostInfo.read(), Clock.systemUTC());
        String token = fleet.client.addHost(name).enrolmentToken();
        var credentials = Enrolment.credentials(fleet.server.uri(), token, state.resolve("agent"));
        fleet.run(name, credentials, new EngineVmm(engine, images, new Capacity(Arch.X86_64, 1, 1536, 20),
                fetchImages ? new ServerImageSource(fleet.server.uri(), credentials.hostToken()) : null));
        return state;
    }

    @Test
    void aHostWithoutTheImageFetchesItByDigestFromTheServerAndVerifiesIt() throws Exception {
        ImageStore served = new ImageStore(IMAGES);
        ImageManifest image = served.findByName("default").orElseThrow();
        fleet = new TestFleet(dir, c -> c, served);
        Path state = realHost("h1", 3, true);

        JobView job = fleet.client.submit(JobRequest.command(List.of("echo", "from a fetched image"), 1, 1024, 2));
        assertThat(job.image()).as("the launch names the image's digest").isEqualTo(image.digest());
        await().atMost(Duration.ofSeconds(240)).until(() -> fleet.client.job(job.id()).state().terminal());

        assertThat(fleet.client.job(job.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(text(job)).isEqualTo("from a fetched image\n");
        ImageStore local = new ImageStore(state.resolve("images"));
        assertThat(local.list()).extracting(ImageManifest::digest).containsExactly(image.digest());
        local.verify(local.list().getFirst());

        HttpResponse<String> anonymous = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                fleet.server.uri().resolve("/api/v1/images/" + image.digest())).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).as("images are served to hosts only").isEqualTo(401);
    }

    @Test
    void jobsRunInRealVmsAcrossTwoHosts() throws Exception {
        fleet = new TestFleet(dir, c -> c);
        realHost("h1", 1);
        realHost("h2", 2);

        List<JobView> jobs = List.of(
                fleet.client.submit(JobRequest.command(List.of("sh", "-c", "echo job one on $(hostname)"), 1, 1024, 2)),
                fleet.client.submit(JobRequest.command(List.of("sh", "-c", "echo job two; exit 3"), 1, 1024, 2)),
                fleet.client.submit(JobRequest.command(List.of("sh", "-c", "echo job three"), 1, 1024, 2)));

        Set<String> hostsUsed = new HashSet<>();
        for (JobView job : jobs) {
            await().atMost(Duration.ofSeconds(240)).until(() -> fleet.client.job(job.id()).state().terminal());
            JobView done = fleet.client.job(job.id());
            assertThat(done.timeline()).extracting(JobEvent::state).containsSubsequence(JobState.QUEUED,
                    JobState.SCHEDULED, JobState.STARTING, JobState.RUNNING);
            hostsUsed.add(done.host());
        }
        assertThat(fleet.client.job(jobs.get(0).id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fleet.client.job(jobs.get(1).id()).state()).isEqualTo(JobState.FAILED);
        assertThat(fleet.client.job(jobs.get(1).id()).exitCode()).isEqualTo(3);
        assertThat(fleet.client.job(jobs.get(2).id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(text(jobs.get(0))).startsWith("job one on kiln-");
        assertThat(text(jobs.get(1))).isEqualTo("job two\n");
        assertThat(hostsUsed).as("a 1 GiB job fits one at a time per host: both hosts took jobs")
                .containsExactlyInAnyOrder("h1", "h2");

        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.client.vms().isEmpty());
        for (int i = 0; i < labs.size(); i++) {
            assertThat(Leftovers.find(states.get(i), labs.get(i).hostNamespace(), List.of())).isEmpty();
        }
    }

    private String text(JobView job) {
        LogPage page = fleet.client.logs(job.id(), 0, Duration.ZERO);
        return page.entries().stream().map(LogPage.Entry::text).collect(Collectors.joining());
    }
}
