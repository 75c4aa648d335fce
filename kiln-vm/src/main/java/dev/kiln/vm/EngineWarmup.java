package dev.kiln.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * Loads and initialises what a process's first VM needs (the JSON of the manifest and the config
 * drive, logging, the engine's classes, process launching) without touching the host.
 * `kiln run` does this on a second thread while it reads its arguments and finds the image, and
 * bin/kiln's class-data archive is first made from it: either way the first VM does not wait for it.
 */
public final class EngineWarmup {
    private EngineWarmup() {}

    public static void run() {
        try {
            // In the order the way to the VM needs them, leaving out the image's manifest, which `kiln run`'s
            // main thread parses as this starts: both would wait on one class's initialisation while a core
            // idles. BigDecimal, which that parser needs, is the exception: JDK 25's squares 5 up to 5^65536
            // as it initialises (~15 ms), and main gets to the manifest ~10 ms after this starts.
            Class.forName("java.math.BigDecimal", true, null);
            // The engine's logger: SLF4J finds its provider and reads its settings.
            LoggerFactory.getLogger(VmEngine.class);
            // A fresh JVM's first String.format loads locale data (~15 ms), and the tap's, the firewall's
            // and the config drive's commands are formatted once the engine is made.
            String.format("%s %d %02x %011o", "warmup", 1, 2, 3);
            ConfigDrive.json(new GuestConfig("vm-warmup", "warmup", "n",
                    new GuestConfig.Network("10.0.0.2", 30, "10.0.0.1", List.of()), List.of("true"), Map.of(), 1));
            VmEngine.newVmId();
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            for (Class<?> engineClass : List.of(AcceleratorChoice.class, Cgroups.class, Cidr.class, Firewall.class,
                    GuestConsole.class, HostCommand.class, HostInfo.class, Journal.class, QemuDriver.class,
                    ScratchDisks.class, TapDevices.class, VmResources.class, VmResult.class, VmSpec.class)) {
                lookup.ensureInitialized(engineClass);
            }
            // Process launching initialises itself on first use (the launch mechanism, the reaper).
            Class.forName("java.lang.ProcessImpl", true, null);
            // Last, for bin/kiln's class-data archive, which is first made from what this loads.
            var entry = new ImageManifest.FileEntry("0".repeat(64), 1);
            ManifestJson.read(ManifestJson.write(new ImageManifest("warmup", "1", "x86_64", "sha256:" + "0".repeat(64),
                    "0", new ImageManifest.Kernel(ImageManifest.Kernel.KILN, "6.1", "0"),
                    Map.of(ImageManifest.KERNEL, entry, ImageManifest.ROOTFS, entry),
                    null, null)));
        } catch (IOException e) {
            throw new UncheckedIOException("warming up the engine's JSON", e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("warming up the engine: " + e.getMessage(), e);
        }
    }
}
