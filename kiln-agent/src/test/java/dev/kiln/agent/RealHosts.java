package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.Arch;
import dev.kiln.images.ImageStore;
import dev.kiln.testkit.Leftovers;
import dev.kiln.testkit.NetworkLab;
import dev.kiln.vm.Cidr;
import dev.kiln.vm.EngineConfig;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.QemuDriver;
import dev.kiln.vm.VmEngine;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Hosts whose agents drive the real engine (QEMU under TCG), each with its VM networking in a network
 * lab of its own and room for one 1 GiB VM at a time (and 64 GiB of disk: a runner demand asks 32 by default). Closing removes the labs and the hosts' state.
 */
final class RealHosts implements AutoCloseable {
    static final Path IMAGES = Path.of(System.getProperty("kiln.test.images", "/var/lib/kiln/images"));

    private final TestFleet fleet;
    private final List<Host> hosts = new ArrayList<>();

    record Host(String name, NetworkLab lab, Path state) {}

    RealHosts(TestFleet fleet) {
        this.fleet = fleet;
    }

    /** Fails with what to do when a test's image is not built. */
    static void requireImage(String name) {
        if (!Files.exists(IMAGES.resolve("names").resolve(name))) {
            throw new AssertionError("needs the image " + name + " in " + IMAGES + ": run `bin/test` (it builds the test images)"
                    + " or `bin/kiln image build " + name + "`");
        }
    }

    /**
     * A host with a running agent. {@code slot} keeps the hosts' VM address ranges apart.
     *
     * @param fetchImages the host starts with no images and fetches them from the server
     */
    Host add(String name, int slot, boolean fetchImages) {
        NetworkLab lab = NetworkLab.create();
        Path state;
        try {
            // Not under @TempDir: the unprivileged VMM user must be able to reach the state directory.
            state = Files.createTempDirectory(Path.of("/var/tmp"), "kiln-fleet-" + name + "-");
        } catch (IOException e) {
            lab.close();
            throw new UncheckedIOException(e);
        }
        Host host = new Host(name, lab, state);
        hosts.add(host);
        try {
            if (!fetchImages) {
                Files.createSymbolicLink(state.resolve("images"), IMAGES);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        EngineConfig config = EngineConfig.defaults().withStateDir(state)
                .withNetns(lab.hostNamespace(), Cidr.parse("10.21" + slot + ".0.0/24"))
                .withAccelerator(EngineConfig.Accelerator.TCG);
        ImageStore images = new ImageStore(state.resolve("images"));
        VmEngine engine = new VmEngine(config, new QemuDriver(), images, HostInfo.read(), Clock.systemUTC());
        String token = fleet.client.addHost(name).enrolmentToken();
        var credentials = Enrolment.credentials(fleet.server.uri(), token, state.resolve("agent"));
        fleet.run(name, credentials, new EngineVmm(engine, images, new Capacity(Arch.X86_64, 1, 1536, 64),
                fetchImages ? new ServerImageSource(fleet.server.uri(), credentials.hostToken()) : null));
        return host;
    }

    List<Host> all() {
        return List.copyOf(hosts);
    }

    /** No VM directory, slot, tap, nftables chain, VMM process, nor a cgroup of these VMs is left on any host. */
    void assertNothingLeft(Collection<String> vmIds) {
        for (Host host : hosts) {
            assertThat(Leftovers.find(host.state(), host.lab().hostNamespace(), vmIds)).as("left on " + host.name()).isEmpty();
        }
    }

    @Override
    public void close() {
        for (Host host : hosts) {
            host.lab().close();
            try (var paths = Files.walk(host.state())) {
                for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(path);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
