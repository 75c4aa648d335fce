package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Settings of one host's microVM engine.
 *
 * @param stateDir        where images, VM directories and the journal live (default /var/lib/kiln)
 * @param vmmUser         the unprivileged user QEMU runs as
 * @param netns           network namespace that holds the VMs' taps and rules; null for the host's own
 * @param vmNetwork       range carved into one routed /30 per VM
 * @param dns             name servers handed to guests
 * @param egressAllowList private ranges guests may reach despite the private-range drop
 * @param bootTimeout     how long a guest may take to print its init marker
 * @param accelerator     AUTO probes KVM once; KVM or TCG force the choice
 */
public record EngineConfig(
        Path stateDir,
        String vmmUser,
        String netns,
        Cidr vmNetwork,
        List<String> dns,
        List<Cidr> egressAllowList,
        Duration bootTimeout,
        Accelerator accelerator) {

    public static final Path DEFAULT_STATE_DIR = Path.of("/var/lib/kiln");
    public static final String DEFAULT_VMM_USER = "kiln-vmm";
    /** Host-wide state of every Kiln process on this host, whatever its state directory. */
    static final Path HOST_DIR = Path.of("/run/kiln");

    public enum Accelerator { AUTO, KVM, TCG }

    public EngineConfig {
        requireNonNull(stateDir, "stateDir is null");
        requireNonNull(vmmUser, "vmmUser is null");
        requireNonNull(vmNetwork, "vmNetwork is null");
        dns = List.copyOf(dns);
        egressAllowList = List.copyOf(egressAllowList);
        requireNonNull(bootTimeout, "bootTimeout is null");
        requireNonNull(accelerator, "accelerator is null");
        if (vmNetwork.slots() == 0) {
            throw new IllegalArgumentException("VM network " + vmNetwork + " is too small for one /30");
        }
    }

    public static EngineConfig defaults() {
        return new EngineConfig(DEFAULT_STATE_DIR, DEFAULT_VMM_USER, null, Cidr.parse("10.200.0.0/16"),
                List.of("1.1.1.1", "9.9.9.9"), List.of(), Duration.ofSeconds(60), Accelerator.AUTO);
    }

    public EngineConfig withStateDir(Path dir) {
        return new EngineConfig(dir, vmmUser, netns, vmNetwork, dns, egressAllowList, bootTimeout, accelerator);
    }

    public EngineConfig withNetns(String namespace, Cidr network) {
        return new EngineConfig(stateDir, vmmUser, namespace, network, dns, egressAllowList, bootTimeout, accelerator);
    }

    public EngineConfig withAccelerator(Accelerator choice) {
        return new EngineConfig(stateDir, vmmUser, netns, vmNetwork, dns, egressAllowList, bootTimeout, choice);
    }

    Path vmsDir() {
        return stateDir.resolve("vms");
    }

    /**
     * What every Kiln process on this host shares whatever its state directory: taps, nftables chains and
     * VM addresses are named after address slots, so the slots of one network namespace are taken here,
     * host-wide (two state directories with slots of their own gave two VMs one tap and one chain).
     */
    Path networkDir() {
        return HOST_DIR.resolve("net").resolve(netns == null ? "host" : "netns-" + netns);
    }

    Path slotsDir() {
        return networkDir().resolve("slots");
    }

    /** The host-wide ledger of what VMs hold (CPUs, memory, disk), shared by every Kiln process here. */
    Path ledgerDir() {
        return HOST_DIR.resolve("ledger");
    }

    Path imagesDir() {
        return stateDir.resolve("images");
    }

    /** The whole consoles of guests that crashed, kept after their VMs are gone. */
    Path crashesDir() {
        return stateDir.resolve("crashes");
    }

    Path scratchDir() {
        return stateDir.resolve("scratch");
    }
}
