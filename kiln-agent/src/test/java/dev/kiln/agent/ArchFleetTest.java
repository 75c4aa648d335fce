package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.HostView;
import dev.kiln.api.JobRequest;
import dev.kiln.core.JobState;
import dev.kiln.api.JobView;
import dev.kiln.api.VmLaunch;
import dev.kiln.core.Arch;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Architectures across a fleet: a real server (SQLite) with an image of each arch in its store, real agents on
 * simulated VMMs. Labels place jobs by arch; a launch names the VM's arch and the image built for it.
 */
@Timeout(120)
class ArchFleetTest {
    @TempDir
    Path dir;
    TestFleet fleet;
    ImageStore images;

    @AfterEach
    void close() {
        if (fleet != null) {
            fleet.close();
        }
    }

    /** A server whose store holds {@code default} (x86_64) and {@code default-arm64}. */
    TestFleet fleet() throws IOException {
        images = new ImageStore(dir.resolve("images"));
        add(images, "default", Arch.X86_64);
        add(images, "default-arm64", Arch.ARM64);
        fleet = new TestFleet(dir, c -> c, images);
        return fleet;
    }

    static ImageManifest add(ImageStore store, String name, Arch arch) throws IOException {
        Path built = Files.createDirectories(store.newBuildDirectory(name));
        Files.writeString(built.resolve(ImageManifest.KERNEL), arch + " kernel");
        Files.writeString(built.resolve(ImageManifest.ROOTFS), arch + " root filesystem of " + name);
        return store.add(built, name, "1", arch.id(), "recipe-" + name,
                new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1.192-kiln", "k-" + arch), null, null);
    }

    JobView submit(String label) {
        return fleet.client.submit(new JobRequest(List.of("echo", label), Map.of(), null, List.of(label), null, null,
                null, null, null, null, null, null));
    }

    static VmLaunch launchOf(TestFleet.Host host, JobView job) {
        return host.vmm().launchedVms().stream().filter(l -> l.job().equals(job.id())).findFirst().orElseThrow();
    }

    @Test
    void eachLabelLandsOnAHostThatRunsItsArchWithTheImageBuiltForIt() throws IOException {
        fleet();
        TestFleet.Host x86 = fleet.host("x86", new Capacity(Arch.X86_64, 4, 8 * 1024, 100));
        TestFleet.Host arm = fleet.host("arm", new Capacity(Arch.ARM64, 4, 8 * 1024, 100));
        String x86Default = images.findByName("default").orElseThrow().digest();
        String armDefault = images.findByName("default-arm64").orElseThrow().digest();

        JobView armJob = fleet.awaitEnd(submit("kiln-arm64").id());
        JobView x86Job = fleet.awaitEnd(submit("kiln").id());
        JobView anyJob = fleet.awaitEnd(submit("kiln-any").id());

        assertThat(armJob.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(armJob.host()).isEqualTo("arm");
        assertThat(launchOf(arm, armJob)).extracting(VmLaunch::arch, VmLaunch::image).containsExactly("arm64", armDefault);
        assertThat(x86Job.host()).isEqualTo("x86");
        assertThat(launchOf(x86, x86Job)).extracting(VmLaunch::arch, VmLaunch::image).containsExactly("x86_64", x86Default);
        // kiln-any runs natively wherever it lands, on that host's own arch and image.
        TestFleet.Host anyHost = anyJob.host().equals("arm") ? arm : x86;
        assertThat(launchOf(anyHost, anyJob).arch()).isEqualTo(anyHost.vmm().capacity().arch().id());
        assertThat(launchOf(anyHost, anyJob).image()).isEqualTo(anyJob.host().equals("arm") ? armDefault : x86Default);
    }

    @Test
    void anArmJobFailsClearlyWhileNoHostRunsArmAndEmulationIsOfferedOnlyByTheFlag() throws IOException {
        fleet();
        fleet.host("plain", new Capacity(Arch.X86_64, 4, 8 * 1024, 100));

        JobView refused = fleet.awaitEnd(submit("kiln-arm64").id());

        assertThat(refused.state()).isEqualTo(JobState.FAILED);
        assertThat(refused.detail()).contains("no arm64 host is registered", "kiln agent --emulate arm64");

        TestFleet.Host emulating = fleet.host("emulating", new Capacity(Arch.X86_64, 4, 8 * 1024, 100, Set.of(Arch.ARM64)));
        JobView emulated = fleet.awaitEnd(submit("kiln-arm64").id());

        assertThat(emulated.state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(emulated.host()).isEqualTo("emulating");
        assertThat(launchOf(emulating, emulated).arch()).isEqualTo("arm64");
        HostView shown = fleet.client.hosts().stream().filter(h -> h.name().equals("emulating")).findFirst().orElseThrow();
        assertThat(shown.arch()).isEqualTo("x86_64");
        assertThat(shown.emulatedArches()).containsExactly("arm64");
        assertThat(fleet.client.hosts().stream().filter(h -> h.name().equals("plain")).findFirst().orElseThrow()
                .emulatedArches()).isEmpty();
    }

    @Test
    void aNativeArmHostIsPreferredToOneThatEmulates() throws IOException {
        fleet();
        TestFleet.Host emulating = fleet.host("emulating", new Capacity(Arch.X86_64, 4, 8 * 1024, 100, Set.of(Arch.ARM64)));
        fleet.host("arm", new Capacity(Arch.ARM64, 4, 8 * 1024, 100));

        for (int i = 0; i < 3; i++) {
            assertThat(fleet.awaitEnd(submit("kiln-arm64").id()).host()).isEqualTo("arm");
        }
        assertThat(emulating.vmm().launchedVms()).isEmpty();
    }
}
