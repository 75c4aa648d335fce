package dev.kiln.cli;

import dev.kiln.vm.GuestConfig;
import dev.kiln.vm.ImageManifest;
import dev.kiln.vm.VmEngine;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * Loads the classes a `kiln run` needs without touching the host, so bin/kiln can archive them for
 * class-data sharing after a build. Prints nothing and leaves nothing behind;
 * what it does not load, each run loads and links from the jars again.
 */
@Command(name = "warmup", hidden = true)
final class WarmupCommand implements Callable<Integer> {
    /** The engine's own classes, by name: they are package-private, and the host must not be touched. */
    static final List<String> ENGINE_CLASSES = List.of("AcceleratorChoice", "Cgroups", "Cidr", "ConfigDrive", "Firewall",
            "GuestConsole", "HostCommand", "HostInfo", "Journal", "QemuDriver", "ScratchDisks", "TapDevices",
            "VmResources", "VmResult", "VmSpec");

    @Override
    public Integer call() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var entry = new ImageManifest.FileEntry("0".repeat(64), 1);
        var image = new ImageManifest("warmup", "1", "x86_64", "sha256:" + "0".repeat(64), "0", "6.1",
                Map.of(ImageManifest.KERNEL, entry, ImageManifest.INITRD, entry, ImageManifest.ROOTFS, entry), null, null);
        json.readValue(json.writeValueAsBytes(image), ImageManifest.class);
        json.writeValueAsBytes(new GuestConfig("vm-warmup", "warmup", "n", null, List.of("true"), Map.of(), 1));
        new picocli.CommandLine(new RunCommand()).parseArgs("--memory", "1g", "--timeout", "1m", "--", "true");
        for (String name : ENGINE_CLASSES) {
            Class.forName(VmEngine.class.getPackageName() + "." + name, false, VmEngine.class.getClassLoader());
        }
        org.slf4j.LoggerFactory.getLogger(WarmupCommand.class).debug("warming up {}", VmEngine.newVmId());
        MessageDigest.getInstance("SHA-256").digest(new byte[1]);
        Path scratch = Files.createTempFile("kiln-warmup-", ".lock");
        try (FileChannel lock = FileChannel.open(scratch, StandardOpenOption.WRITE)) {
            lock.lock().release();
            new ProcessBuilder("true").start().waitFor();
        } finally {
            Files.delete(scratch);
        }
        return ExitCodes.OK;
    }
}
