package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testkit.Leftovers;
import dev.kiln.testkit.NetworkLab;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * An engine for tests: a state directory of its own (sharing the host's built images read-only)
 * and all VM networking inside a {@link NetworkLab}.
 */
final class TestHost implements AutoCloseable {
    static final Path IMAGES = Path.of(System.getProperty("kiln.test.images", "/var/lib/kiln/images"));

    final NetworkLab lab;
    final Path state;
    final EngineConfig config;
    final VmEngine engine;
    final ImageManifest image;
    /** Every VM this host was asked to run, so cleanup checks look at ours only. */
    final List<String> vmIds = new java.util.concurrent.CopyOnWriteArrayList<>();

    TestHost() {
        this("default");
    }

    TestHost(String imageName) {
        ImageStore images = new ImageStore(IMAGES);
        this.image = images.findByName(imageName).orElseThrow(() -> new AssertionError(
                "VM tests need the %s image in %s: build it with `bin/kiln image build %s` (bin/test does)"
                        .formatted(imageName, IMAGES, imageName)));
        try {
            this.state = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-test-");
            Files.createSymbolicLink(state.resolve("images"), IMAGES);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.lab = NetworkLab.create();
        this.config = EngineConfig.defaults().withStateDir(state)
                .withNetns(lab.hostNamespace(), Cidr.parse("10.201.0.0/24"))
                .withAccelerator(EngineConfig.Accelerator.TCG);
        this.engine = new VmEngine(config, new QemuDriver(), new ImageStore(state.resolve("images")), HostInfo.read(),
                Clock.systemUTC());
    }

    VmSpec spec(String... command) {
        return spec(1, 512, Duration.ofMinutes(2), command);
    }

    VmSpec spec(int cpus, long memoryMib, Duration timeout, String... command) {
        VmSpec spec = new VmSpec(VmEngine.newVmId(), image, cpus, memoryMib, 2, timeout, List.of(command), Map.of(), true);
        vmIds.add(spec.vmId());
        return spec;
    }

    /** Asserts that no VM of this host left anything: directory, slot, tap, rule, cgroup or process. */
    void assertNothingLeft() {
        assertThat(Leftovers.find(state, lab.hostNamespace(), vmIds)).as("leftovers").isEmpty();
    }

    @Override
    public void close() {
        try {
            // A failed test may leave a VM running on another thread: stop it before the lab goes.
            engine.stopAll(Duration.ofSeconds(30));
            engine.recoverLeftovers();
        } finally {
            lab.close();
            try {
                ImageStore.deleteTree(state);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Collects a guest's output. */
    static final class Output implements GuestOutput {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteArrayOutputStream err = new ByteArrayOutputStream();

        @Override
        public synchronized void stdout(byte[] bytes, int offset, int length) {
            out.write(bytes, offset, length);
        }

        @Override
        public synchronized void stderr(byte[] bytes, int offset, int length) {
            err.write(bytes, offset, length);
        }

        synchronized String stdout() {
            return out.toString(StandardCharsets.UTF_8);
        }

        synchronized String stderr() {
            return err.toString(StandardCharsets.UTF_8);
        }
    }
}
