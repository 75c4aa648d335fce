package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.images.FileTrees;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
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
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * An engine for tests: a state directory of its own (sharing the host's built images read-only)
 * and all VM networking inside a {@link NetworkLab}. As a JUnit extension
 * ({@code @RegisterExtension static final TestHost host = new TestHost("default")}) it starts before
 * the class's tests, checks for leftovers after each and removes everything after all.
 */
final class TestHost implements AutoCloseable, BeforeAllCallback, AfterEachCallback, AfterAllCallback {
    static final Path IMAGES = Path.of(System.getProperty("kiln.test.images", "/var/lib/kiln/images"));

    private final String imageName;
    NetworkLab lab;
    Path state;
    EngineConfig config;
    VmEngine engine;
    ImageManifest image;
    /** Every VM this host was asked to run, so cleanup checks look at ours only. */
    final List<String> vmIds = new java.util.concurrent.CopyOnWriteArrayList<>();

    TestHost(String imageName) {
        this.imageName = imageName;
    }

    /** A started host, for benchmarks; close it after use. */
    static TestHost started(String imageName) {
        TestHost host = new TestHost(imageName);
        host.start();
        return host;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        start();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        assertNothingLeft();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (engine != null) {
            close();
        }
    }

    private void start() {
        ImageStore images = new ImageStore(IMAGES);
        // -Dkiln.test.image.default=default-kk runs the tests on an experimental build of the image.
        String name = System.getProperty("kiln.test.image." + imageName, imageName);
        this.image = images.findByName(name).orElseThrow(() -> new AssertionError(
                "VM tests need the %s image in %s: build it with `bin/kiln image build %s` (bin/test does)"
                        .formatted(name, IMAGES, imageName)));
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
                FileTrees.delete(state);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** Collects a guest's output. */
    static class Output implements GuestOutput {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteArrayOutputStream err = new ByteArrayOutputStream();
        private final List<String> waits = new java.util.concurrent.CopyOnWriteArrayList<>();

        @Override
        public void waiting(String message) {
            waits.add(message);
        }

        /** What the engine said while the VM waited for room. */
        List<String> waits() {
            return waits;
        }

        private final List<String> phases = new java.util.ArrayList<>();

        @Override
        public synchronized void phase(String name, Duration sinceStart, String guestUptime) {
            phases.add(name);
        }

        /** The boot phases the guest reported, in order. */
        synchronized List<String> phases() {
            return List.copyOf(phases);
        }

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
