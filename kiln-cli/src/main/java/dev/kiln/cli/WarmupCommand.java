package dev.kiln.cli;

import dev.kiln.vm.GuestConfig;
import dev.kiln.vm.ImageManifest;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * Loads the classes a `kiln run` needs without touching the host, so bin/kiln can archive them
 * for class-data sharing after a build. Prints nothing, changes nothing.
 */
@Command(name = "warmup", hidden = true)
final class WarmupCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var entry = new ImageManifest.FileEntry("0".repeat(64), 1);
        var image = new ImageManifest("warmup", "1", "x86_64", "sha256:" + "0".repeat(64), "0", "6.1",
                Map.of(ImageManifest.KERNEL, entry, ImageManifest.INITRD, entry, ImageManifest.ROOTFS, entry), null, null);
        json.readValue(json.writeValueAsBytes(image), ImageManifest.class);
        json.writeValueAsBytes(new GuestConfig("vm-warmup", "warmup", "n", null, List.of("true"), Map.of(), 1));
        new picocli.CommandLine(new Kiln()).parseArgs("run", "--memory", "1g", "--timeout", "1m", "--", "true");
        return ExitCodes.OK;
    }
}
