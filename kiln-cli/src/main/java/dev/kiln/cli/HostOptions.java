package dev.kiln.cli;

import dev.kiln.vm.Cidr;
import dev.kiln.vm.EngineConfig;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.ImageStore;
import dev.kiln.vm.QemuDriver;
import dev.kiln.vm.VmEngine;
import java.nio.file.Path;
import java.time.Clock;
import picocli.CommandLine.Option;

/** Where this host keeps its state and how its VMs are networked: shared by the commands. */
final class HostOptions {
    @Option(names = "--state-dir", description = "Kiln's state (images, VMs); default: $KILN_STATE_DIR or /var/lib/kiln")
    Path stateDir;

    @Option(names = "--netns", hidden = true, description = "network namespace holding the VMs' taps (tests)")
    String netns;

    @Option(names = "--vm-network", hidden = true, description = "range carved into a /30 per VM")
    String vmNetwork;

    @Option(names = "--accel", description = "auto (probe KVM once), kvm or tcg; default: auto")
    EngineConfig.Accelerator accelerator = EngineConfig.Accelerator.AUTO;

    EngineConfig config() {
        EngineConfig config = EngineConfig.defaults().withStateDir(stateDir()).withAccelerator(accelerator);
        if (netns != null || vmNetwork != null) {
            config = config.withNetns(netns, vmNetwork == null ? config.vmNetwork() : Cidr.parse(vmNetwork));
        }
        return config;
    }

    Path stateDir() {
        if (stateDir != null) {
            return stateDir;
        }
        String fromEnv = System.getenv("KILN_STATE_DIR");
        return fromEnv == null || fromEnv.isBlank() ? EngineConfig.DEFAULT_STATE_DIR : Path.of(fromEnv);
    }

    ImageStore images() {
        return new ImageStore(stateDir().resolve("images"));
    }

    VmEngine engine() {
        return new VmEngine(config(), new QemuDriver(), images(), HostInfo.read(), Clock.systemUTC());
    }

    /** The folder holding the image recipes: set by bin/kiln. */
    static Path recipes() {
        String home = System.getProperty("kiln.home", System.getenv().getOrDefault("KILN_HOME", "."));
        return Path.of(home).resolve("images");
    }
}
