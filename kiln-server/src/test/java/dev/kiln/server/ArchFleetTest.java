package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.HostView;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.api.VmLaunch;
import dev.kiln.core.Arch;
import dev.kiln.core.JobState;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.testkit.TestingClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Architectures across a fleet: a real server (SQLite) with an image of each arch in its store, hosts played over the
 * real sync protocol ({@link SimulatedHost}, each reporting its arch and the arches it emulates). Labels place jobs by
 * arch; a launch names the VM's arch and the image built for it; a native host is preferred to one that emulates.
 */
@Timeout(120)
class ArchFleetTest {
    static final String ADMIN = "arch-fleet-admin-token-0123456789";

    @TempDir
    Path dir;
    final List<SimulatedHost> hosts = new ArrayList<>();
    ImageStore images;
    KilnServer server;
    KilnClient client;

    /** A server whose store holds {@code default} (x86_64) and {@code default-arm64}. */
    @BeforeEach
    void start() throws IOException {
        images = new ImageStore(dir.resolve("images"));
        add(images, "default", Arch.X86_64);
        add(images, "default-arm64", Arch.ARM64);
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0),
                new TestingClock(), images, List.of());
        client = new KilnClient(server.uri(), ADMIN);
    }

    @AfterEach
    void close() {
        hosts.forEach(SimulatedHost::close);
        if (server != null) {
            server.close();
        }
    }

    static ImageManifest add(ImageStore store, String name, Arch arch) throws IOException {
        Path built = Files.createDirectories(store.newBuildDirectory(name));
        Files.writeString(built.resolve(ImageManifest.KERNEL), arch + " kernel");
        Files.writeString(built.resolve(ImageManifest.ROOTFS), arch + " root filesystem of " + name);
        return store.add(built, name, "1", arch.id(), "recipe-" + name,
                new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "k-" + arch), null, null);
    }

    SimulatedHost host(String name, Arch arch, Arch... emulated) {
        SimulatedHost host = SimulatedHost.enrol(server.uri(), client, name, arch.id(),
                java.util.Arrays.stream(emulated).map(Arch::id).toList(), 4, 8).start();
        hosts.add(host);
        return host;
    }

    JobView submit(String label) {
        return client.submit(new JobRequest(List.of("echo", label), Map.of(), null, List.of(label), null, null,
                null, null, null, null, null, null));
    }

    /** The job's launch, once a host was asked for it; its command then exits 0 and the job ends. */
    VmLaunch runToEnd(JobView job) {
        await().atMost(Duration.ofSeconds(30)).until(() -> client.job(job.id()).state().terminal()
                || hosts.stream().anyMatch(h -> h.launches().values().stream().anyMatch(l -> l.job().equals(job.id()))));
        for (SimulatedHost host : hosts) {
            for (VmLaunch launch : host.launches().values()) {
                if (launch.job().equals(job.id())) {
                    host.exit(launch.id(), 0);
                    await().atMost(Duration.ofSeconds(30)).until(() -> client.job(job.id()).state().terminal());
                    return launch;
                }
            }
        }
        return null;
    }

    @Test
    void eachLabelLandsOnAHostThatRunsItsArchWithTheImageBuiltForIt() {
        host("x86", Arch.X86_64);
        host("arm", Arch.ARM64);
        String x86Default = images.findByName("default").orElseThrow().digest();
        String armDefault = images.findByName("default-arm64").orElseThrow().digest();

        JobView armJob = submit("kiln-arm64");
        VmLaunch armLaunch = runToEnd(armJob);
        JobView x86Job = submit("kiln");
        VmLaunch x86Launch = runToEnd(x86Job);
        JobView anyJob = submit("kiln-any");
        VmLaunch anyLaunch = runToEnd(anyJob);

        assertThat(client.job(armJob.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(client.job(armJob.id()).host()).isEqualTo("arm");
        assertThat(armLaunch).extracting(VmLaunch::arch, VmLaunch::image).containsExactly("arm64", armDefault);
        assertThat(client.job(x86Job.id()).host()).isEqualTo("x86");
        assertThat(x86Launch).extracting(VmLaunch::arch, VmLaunch::image).containsExactly("x86_64", x86Default);
        // kiln-any runs natively wherever it lands, on that host's own arch and image.
        boolean onArm = client.job(anyJob.id()).host().equals("arm");
        assertThat(anyLaunch).extracting(VmLaunch::arch, VmLaunch::image)
                .containsExactly(onArm ? "arm64" : "x86_64", onArm ? armDefault : x86Default);
    }

    @Test
    void anArmJobFailsClearlyWhileNoHostRunsArmAndEmulationIsOfferedOnlyByTheFlag() {
        host("plain", Arch.X86_64);

        JobView refused = submit("kiln-arm64");
        assertThat(runToEnd(refused)).as("no launch").isNull();
        assertThat(client.job(refused.id()).state()).isEqualTo(JobState.FAILED);
        assertThat(client.job(refused.id()).detail()).contains("no arm64 host is registered", "kiln agent --emulate arm64");

        SimulatedHost emulating = host("emulating", Arch.X86_64, Arch.ARM64);
        JobView emulated = submit("kiln-arm64");
        VmLaunch launch = runToEnd(emulated);

        assertThat(client.job(emulated.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(client.job(emulated.id()).host()).isEqualTo(emulating.name());
        assertThat(launch.arch()).isEqualTo("arm64");
        HostView shown = client.hosts().stream().filter(h -> h.name().equals("emulating")).findFirst().orElseThrow();
        assertThat(shown.arch()).isEqualTo("x86_64");
        assertThat(shown.emulatedArches()).containsExactly("arm64");
        assertThat(client.hosts().stream().filter(h -> h.name().equals("plain")).findFirst().orElseThrow().emulatedArches()).isEmpty();
    }

    @Test
    void aNativeArmHostIsPreferredToOneThatEmulates() {
        SimulatedHost emulating = host("emulating", Arch.X86_64, Arch.ARM64);
        host("arm", Arch.ARM64);

        for (int i = 0; i < 3; i++) {
            JobView job = submit("kiln-arm64");
            runToEnd(job);
            assertThat(client.job(job.id()).host()).isEqualTo("arm");
        }
        assertThat(emulating.launched()).isEmpty();
    }
}
