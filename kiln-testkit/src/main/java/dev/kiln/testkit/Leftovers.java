package dev.kiln.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What Kiln VMs can leave on a host: VM directories under the state directory, address slots,
 * taps and per-VM nftables chains in the network namespace, cgroups, VMM processes and their watchdogs. Tests list
 * them after every run; a clean host lists nothing.
 */
public final class Leftovers {
    private static final Pattern VM_CHAIN = Pattern.compile("chain vm\\d+|\"kilntap\\d+\"");
    private static final List<String> CGROUP_ROOTS = List.of("/sys/fs/cgroup/cpu/kiln", "/sys/fs/cgroup/memory/kiln",
            "/sys/fs/cgroup/kiln");

    private Leftovers() {}

    /** Where the engine takes the address slots of VMs in {@code netns}, whatever their state directory. */
    public static Path hostSlots(String netns) {
        return Path.of("/run/kiln/net", "netns-" + netns, "slots");
    }

    /** Everything left by the given VMs of a Kiln state directory whose VMs use {@code netns}. */
    public static List<String> find(Path state, String netns, Collection<String> vmIds) {
        List<String> found = new ArrayList<>();
        // Address slots are taken host-wide, per network namespace (see the engine's EngineConfig).
        for (Path path : List.of(state.resolve("vms"), state.resolve("slots"), hostSlots(netns))) {
            if (Files.isDirectory(path)) {
                try (var entries = Files.list(path)) {
                    entries.forEach(entry -> found.add("file " + entry));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        String links = NetworkLab.exec(List.of("ip", "-n", netns, "-o", "link", "show")).output();
        links.lines().filter(line -> line.contains("kilntap")).forEach(line -> found.add("tap " + line.strip()));
        String table = NetworkLab.exec(List.of("ip", "netns", "exec", netns, "nft", "list", "table", "inet", "kiln")).output();
        var chains = VM_CHAIN.matcher(table);
        while (chains.find()) {
            found.add("nftables " + chains.group());
        }
        for (String vmId : vmIds) {
            for (String root : CGROUP_ROOTS) {
                if (Files.exists(Path.of(root, vmId))) {
                    found.add("cgroup " + Path.of(root, vmId));
                }
            }
        }
        ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains(state.toString() + "/"))
                .filter(p -> p.info().command().orElse("").contains("qemu")
                        || p.info().commandLine().orElse("").contains("kiln-watchdog"))
                .forEach(p -> found.add("process " + p.pid() + " " + p.info().commandLine().orElse("")));
        return found;
    }
}
