package dev.kiln.vm;

import dev.kiln.images.ImageManifest;
import dev.kiln.images.ManifestJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads and initialises what a process's first VM needs (the JSON of the manifest and the config
 * drive, logging, the engine's classes, process launching) without touching the host.
 * `kiln run` does this on a second thread while it reads its arguments and finds the image, and
 * bin/kiln's class-data archive is first made from it: either way the first VM does not wait for it.
 */
public final class EngineWarmup {
    /**
     * Open while a warm-up thread sets up logging. A logger asked for by another thread meanwhile is
     * SLF4J's stand-in, which may stay silent for good: Kiln's own lines (leftovers removed, deadlines)
     * then appeared in some runs only.
     */
    private static final CountDownLatch LOGGING = new CountDownLatch(1);
    private static volatile boolean started;

    private EngineWarmup() {}

    /** Warms the engine up on a daemon thread of its own; loggers asked for meanwhile wait for its logging. */
    public static void start() {
        started = true;
        Thread.ofPlatform().daemon().name("kiln-engine-warmup").start(new Runnable() {
            @Override
            public void run() {
                EngineWarmup.run();
            }
        });
    }

    /**
     * The class's logger, once logging is set up. Engine classes ask for it when they log (rarely), not
     * when they load: the way to a VM does not wait for the warm-up's logging.
     */
    static Logger logger(Class<?> owner) {
        if (started) {
            try {
                LOGGING.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return LoggerFactory.getLogger(owner);
    }

    public static void run() {
        try {
            // In the order the way to the VM needs them, leaving out the image's manifest, which `kiln run`'s
            // main thread parses as this starts: both would wait on one class's initialisation while a core
            // idles. BigDecimal, which that parser needs, is the exception: JDK 25's squares 5 up to 5^65536
            // as it initialises (~15 ms), and main gets to the manifest ~10 ms after this starts.
            Class.forName("java.math.BigDecimal", true, null);
            // The engine's logger: SLF4J finds its provider and reads its settings.
            try {
                LoggerFactory.getLogger(VmEngine.class);
            } finally {
                LOGGING.countDown();
            }
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
