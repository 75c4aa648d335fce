package dev.kiln.cli;

import dev.kiln.images.ImageStore;
import dev.kiln.vm.Cidr;
import dev.kiln.vm.EngineConfig;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.QemuDriver;
import dev.kiln.vm.VmEngine;
import java.nio.file.Path;
import java.time.Clock;

/** Where this host keeps its state and how its VMs are networked: shared by the commands. */
final class HostOptions implements SharedOptions {
    static final Flag STATE_DIR = Flag.value("--state-dir", "DIR", Path.class,
            "Kiln's state (images, VMs); default: $KILN_STATE_DIR or /var/lib/kiln");
    static final Flag NETNS = Flag.value("--netns", "NAME", String.class,
            "network namespace holding the VMs' taps (tests)").hiddenFromHelp();
    static final Flag VM_NETWORK = Flag.value("--vm-network", "CIDR", String.class,
            "range carved into a /30 per VM").hiddenFromHelp();
    static final Flag ACCELERATOR = Flag.value("--accel", "MODE", EngineConfig.Accelerator.class,
            "auto (probe KVM once), kvm or tcg; default: auto").initially(EngineConfig.Accelerator.AUTO);

    private final OptionSet options = new OptionSet(STATE_DIR, NETNS, VM_NETWORK, ACCELERATOR);

    @Override
    public OptionSet options() {
        return options;
    }

    EngineConfig config() {
        EngineConfig config = EngineConfig.defaults().withStateDir(stateDir())
                .withAccelerator(options.<EngineConfig.Accelerator>get(ACCELERATOR));
        String netns = options.get(NETNS);
        String vmNetwork = options.get(VM_NETWORK);
        if (netns != null || vmNetwork != null) {
            config = config.withNetns(netns, vmNetwork == null ? config.vmNetwork() : Cidr.parse(vmNetwork));
        }
        return config;
    }

    Path stateDir() {
        Path given = options.get(STATE_DIR);
        return given != null ? given : defaultStateDir();
    }

    static Path defaultStateDir() {
        String fromEnv = System.getenv("KILN_STATE_DIR");
        return fromEnv == null || fromEnv.isBlank() ? EngineConfig.DEFAULT_STATE_DIR : Path.of(fromEnv);
    }

    ImageStore images() {
        return new ImageStore(stateDir().resolve("images"));
    }

    VmEngine engine() {
        return engine(HostInfo.read());
    }

    VmEngine engine(HostInfo hostInfo) {
        return new VmEngine(config(), new QemuDriver(), images(), hostInfo, Clock.systemUTC());
    }

    /** The folder holding the image recipes: set by bin/kiln. */
    static Path recipes() {
        String home = System.getProperty("kiln.home", System.getenv().getOrDefault("KILN_HOME", "."));
        return Path.of(home).resolve("images");
    }
}
