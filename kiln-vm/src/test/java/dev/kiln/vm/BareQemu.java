package dev.kiln.vm;

import dev.kiln.images.ImageManifest;
import dev.kiln.images.ManifestJson;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * For benchmarks: boots an image with the exact QEMU command line Kiln's driver builds, started
 * directly (no cgroup, tap, firewall, unprivileged user or JVM-side supervision), and notes when
 * each console line arrived, on the host's clock.
 */
final class BareQemu {
    private final Path work;
    private final ScratchDisks disks;
    private final Path imageDir;

    BareQemu(Path work, Path scratchDir, Path imageDir) {
        this.work = work;
        this.disks = new ScratchDisks(scratchDir);
        this.imageDir = imageDir;
    }

    /** Console lines (after the ready marker too) mapped to milliseconds since QEMU was started. */
    Map<String, Long> run(int cpus, long memoryMib, int diskGib, List<String> command) throws IOException,
            InterruptedException {
        return run(cpus, memoryMib, diskGib, command, null, null);
    }

    /**
     * The same, with the guest on a network: a tap made beforehand in {@code netns} (QEMU is started
     * inside that namespace, as root) and the guest's addresses on its config drive.
     */
    Map<String, Long> run(int cpus, long memoryMib, int diskGib, List<String> command, String netns, String tap)
            throws IOException, InterruptedException {
        Path disk = work.resolve("scratch.qcow2");
        Path config = work.resolve("config.tar");
        Path console = work.resolve("console.log");
        Files.deleteIfExists(disk);
        Files.deleteIfExists(console);
        disks.createOverlay(disk, diskGib);
        GuestConfig.Network network = tap == null ? null
                : new GuestConfig.Network("10.209.0.2", 30, "10.209.0.1", List.of("192.0.2.53"));
        ConfigDrive.write(new GuestConfig("vm-bare", "bare", "n", network, command, Map.of(), 600), config);
        ImageManifest image = ManifestJson.read(Files.readAllBytes(imageDir.resolve("manifest.json")));
        String cmdline = KernelCommandLine.of(image, "vm-bare", EngineConfig.Accelerator.TCG, HostInfo.read().tscKhz());
        var plan = new VmmDriver.LaunchPlan("vm-bare", image.architecture(), imageDir.resolve(ImageManifest.KERNEL),
                image.hasInitrd() ? imageDir.resolve(ImageManifest.INITRD) : null, imageDir.resolve(ImageManifest.ROOTFS),
                disk, config, tap,
                tap == null ? null : "52:54:00:ff:00:01",
                cpus, memoryMib, console, work.resolve("stderr.log"), EngineConfig.Accelerator.TCG, cmdline);
        long start = System.nanoTime();
        Process qemu = new ProcessBuilder(HostCommand.inNamespace(netns, new QemuDriver().command(plan)))
                .redirectErrorStream(true)
                .redirectOutput(work.resolve("qemu.log").toFile()).start();
        return consoleLines(qemu, start, console, java.time.Duration.ofMinutes(10), imageDir.toString());
    }

    /**
     * Follows a VMM's console file until the VMM exits: each line (the phase markers' record separator and
     * surrounding blanks cut) mapped to the milliseconds from {@code start} to its first arrival, and
     * "(exit)" to the VMM's exit. A VMM still running after {@code limit} is killed and fails the benchmark.
     */
    static Map<String, Long> consoleLines(Process qemu, long start, Path console, java.time.Duration limit, String what)
            throws IOException, InterruptedException {
        Map<String, Long> seen = new LinkedHashMap<>();
        int consumed = 0;
        long deadline = start + limit.toNanos();
        while (true) {
            boolean exited = qemu.waitFor(5, java.util.concurrent.TimeUnit.MILLISECONDS);
            long now = (System.nanoTime() - start) / 1_000_000;
            if (Files.exists(console)) {
                String text = Files.readString(console, StandardCharsets.ISO_8859_1);
                int end = text.lastIndexOf('\n');
                if (end >= consumed) {
                    for (String line : text.substring(consumed, end + 1).split("\r?\n")) {
                        seen.putIfAbsent(line.replace("\u001e", "").strip(), now);
                    }
                    consumed = end + 1;
                }
            }
            if (exited) {
                seen.put("(exit)", now);
                return seen;
            }
            if (System.nanoTime() > deadline) {
                qemu.destroyForcibly().waitFor();
                throw new AssertionError("bare QEMU with " + what + " ran past " + limit + "; console: " + seen.keySet());
            }
        }
    }
}
