package dev.kiln.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.util.List;
import java.util.Map;

/**
 * Loads and initialises what a process's first VM needs (the JSON of the manifest and the config
 * drive, logging, the engine's classes, process launching) without touching the host.
 * `kiln run` does this on a second thread while picocli parses its arguments, and bin/kiln's
 * class-data archive is trained on it: either way the first VM does not wait for it.
 */
public final class EngineWarmup {
    private EngineWarmup() {}

    public static void run() {
        try {
            // First: a fresh JVM's first String.format loads locale data (~15 ms), and the tap's, the
            // firewall's and the config drive's commands are formatted on the way to the VM.
            String.format("%s %d %02x %011o", "warmup", 1, 2, 3);
            var entry = new ImageManifest.FileEntry("0".repeat(64), 1);
            var image = new ImageManifest("warmup", "1", "x86_64", "sha256:" + "0".repeat(64), "0", "6.1",
                    Map.of(ImageManifest.KERNEL, entry, ImageManifest.INITRD, entry, ImageManifest.ROOTFS, entry), null, null);
            ManifestJson.read(ManifestJson.write(image));
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
        } catch (IOException e) {
            throw new UncheckedIOException("warming up the engine's JSON", e);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("warming up the engine: " + e.getMessage(), e);
        }
    }
}
