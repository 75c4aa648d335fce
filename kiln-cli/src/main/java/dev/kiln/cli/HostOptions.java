package dev.kiln.cli;

import dev.kiln.vm.Cidr;
import dev.kiln.vm.EngineConfig;
import dev.kiln.vm.HostInfo;
import dev.kiln.vm.ImageStore;
import dev.kiln.vm.QemuDriver;
import dev.kiln.vm.VmEngine;
import java.nio.file.Path;
import java.time.Clock;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Where this host keeps its state and how its VMs are networked: shared by the commands. */
final class HostOptions implements SharedOptions {
    private final OptionSpec stateDir = OptionSpec.builder("--state-dir").type(Path.class).paramLabel("DIR")
            .description("Kiln's state (images, VMs); default: $KILN_STATE_DIR or /var/lib/kiln").build();

    private final OptionSpec netns = OptionSpec.builder("--netns").type(String.class).paramLabel("NAME").hidden(true)
            .description("network namespace holding the VMs' taps (tests)").build();

    private final OptionSpec vmNetwork = OptionSpec.builder("--vm-network").type(String.class).paramLabel("CIDR")
            .hidden(true).description("range carved into a /30 per VM").build();

    private final OptionSpec accelerator = OptionSpec.builder("--accel").type(EngineConfig.Accelerator.class)
            .initialValue(EngineConfig.Accelerator.AUTO).paramLabel("MODE")
            .description("auto (probe KVM once), kvm or tcg; default: auto").build();

    @Override
    public CommandSpec mixin() {
        return CommandSpec.create().addOption(stateDir).addOption(netns).addOption(vmNetwork).addOption(accelerator);
    }

    EngineConfig config() {
        EngineConfig config = EngineConfig.defaults().withStateDir(stateDir())
                .withAccelerator(accelerator.<EngineConfig.Accelerator>getValue());
        String netns = this.netns.getValue();
        String vmNetwork = this.vmNetwork.getValue();
        if (netns != null || vmNetwork != null) {
            config = config.withNetns(netns, vmNetwork == null ? config.vmNetwork() : Cidr.parse(vmNetwork));
        }
        return config;
    }

    Path stateDir() {
        Path given = stateDir.getValue();
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
        return new VmEngine(config(), new QemuDriver(), images(), HostInfo.read(), Clock.systemUTC());
    }

    /** The folder holding the image recipes: set by bin/kiln. */
    static Path recipes() {
        String home = System.getProperty("kiln.home", System.getenv().getOrDefault("KILN_HOME", "."));
        return Path.of(home).resolve("images");
    }
}
