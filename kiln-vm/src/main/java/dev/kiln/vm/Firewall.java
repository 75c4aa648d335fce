package dev.kiln.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Collectors;

/**
 * The `kiln` nftables table (family inet: it sees IPv4 and IPv6). Shared rules drop VM↔VM traffic,
 * VM→host traffic (but DNS, for a resolver on the host) and VM→private and link-local ranges unless
 * allow-listed, and masquerade egress. VMs get IPv4 only: every IPv6 packet from a tap is dropped, or
 * a guest could reach host services on [::] by the tap's link-local address. Per VM, a chain bound to
 * its tap drops packets that do not carry the VM's own address, so one VM cannot pose as another.
 */
final class Firewall {
    static final String TABLE = "kiln";
    static final String FAMILY = "inet";
    /** Kiln's first table saw IPv4 only; a host that still has it gets the inet table in its place. */
    private static final String IPV4_ONLY_TABLE = "table ip " + TABLE;
    /** Private, shared, loopback, link-local (cloud metadata) and multicast ranges. */
    static final List<String> PRIVATE_RANGES = List.of("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
            "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3");

    private static final Path IP_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");
    private static final ReentrantLock IN_THIS_PROCESS = new ReentrantLock();

    private final String netns;
    private final Cidr vmNetwork;
    private final List<Cidr> allowList;
    private final Path lockFile;

    Firewall(String netns, Cidr vmNetwork, List<Cidr> allowList, Path lockFile) {
        this.netns = netns;
        this.vmNetwork = vmNetwork;
        this.allowList = List.copyOf(allowList);
        this.lockFile = lockFile;
    }

    /** Creates the shared table and turns on forwarding, once per host (or namespace). */
    void ensureBaseRules() {
        try {
            Files.createDirectories(lockFile.getParent());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // Two Kiln processes starting at once must not both add the shared rules; a file lock keeps
        // processes apart, and engines of one process (whose file locks would overlap) queue here first.
        IN_THIS_PROCESS.lock();
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = FileLocks.lock(channel)) {
            // Side by side: in a namespace, forwarding is a program of its own.
            VmResources.Steps forwarding = new VmResources.Steps();
            forwarding.start(this::enableForwarding);
            // Tables only, not the table: listing it would print every VM's chain.
            List<String> tables = HostCommand.run(nft("list", "tables")).lines().toList();
            forwarding.await();
            if (!tables.contains("table " + FAMILY + " " + TABLE)) {
                String replaced = tables.contains(IPV4_ONLY_TABLE) ? "delete " + IPV4_ONLY_TABLE + "\n" : "";
                HostCommand.run(nft("-f", "-"), replaced + baseRuleset());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the firewall (lock " + lockFile + ")", e);
        } finally {
            IN_THIS_PROCESS.unlock();
        }
    }

    /** The host's own namespace is this process's: its sysctl is a file away, no program needed. */
    private void enableForwarding() {
        if (netns != null) {
            HostCommand.run(HostCommand.inNamespace(netns, List.of("sysctl", "-qw", "net.ipv4.ip_forward=1")));
            return;
        }
        try {
            if (!Files.readString(IP_FORWARD).strip().equals("1")) {
                Files.writeString(IP_FORWARD, "1\n");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot turn on forwarding in " + IP_FORWARD, e);
        }
    }

    String baseRuleset() {
        String allowed = allowList.isEmpty() ? "" : "elements = { %s }".formatted(
                allowList.stream().map(Cidr::toString).collect(Collectors.joining(", ")));
        String taps = "\"" + TapDevices.PREFIX + "*\"";
        return """
                table %6$s %1$s {
                  map vm_source { type ifname : verdict; }
                  set private { type ipv4_addr; flags interval; elements = { %2$s } }
                  set allowed { type ipv4_addr; flags interval; %3$s }
                  chain forward {
                    type filter hook forward priority filter; policy accept;
                    iifname %4$s jump from_vm
                  }
                  chain from_vm {
                    meta nfproto ipv6 drop
                    iifname vmap @vm_source
                    oifname %4$s drop
                    ip daddr @allowed accept
                    ip daddr @private drop
                  }
                  chain input {
                    type filter hook input priority filter; policy accept;
                    iifname %4$s meta nfproto ipv6 drop
                    iifname %4$s ct state established,related accept
                    iifname %4$s meta l4proto { tcp, udp } th dport 53 accept
                    iifname %4$s drop
                  }
                  chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    ip saddr %5$s oifname != %4$s masquerade
                  }
                }
                """.formatted(TABLE, String.join(", ", PRIVATE_RANGES), allowed, taps, vmNetwork, FAMILY);
    }

    static String chainName(int slot) {
        return "vm" + slot;
    }

    void addVm(int slot, String tap, String guestAddress) {
        String chain = chainName(slot);
        HostCommand.run(nft("-f", "-"), """
                add chain %5$s %1$s %2$s
                flush chain %5$s %1$s %2$s
                add rule %5$s %1$s %2$s ip saddr != %3$s drop
                add element %5$s %1$s vm_source { "%4$s" : jump %2$s }
                """.formatted(TABLE, chain, guestAddress, tap, FAMILY));
    }

    /** Removes a VM's rules; rules already gone are fine (undo after a crash). */
    void removeVm(int slot, String tap) {
        String element = "{ \"" + tap + "\" }";
        // One transaction in the usual case; it fails as a whole when either part is already gone.
        if (HostCommand.execute(nft("-f", "-"), "delete element %4$s %1$s vm_source %2$s\ndelete chain %4$s %1$s %3$s\n"
                .formatted(TABLE, element, chainName(slot), FAMILY)).ok()) {
            return;
        }
        if (!HostCommand.execute(nft("list", "table", FAMILY, TABLE), null).ok()) {
            return;
        }
        HostCommand.execute(nft("delete", "element", FAMILY, TABLE, "vm_source", element), null);
        HostCommand.Result chain = HostCommand.execute(nft("delete", "chain", FAMILY, TABLE, chainName(slot)), null);
        if (!chain.ok() && !chain.stderr().contains("No such file")) {
            HostCommand.run(nft("delete", "chain", FAMILY, TABLE, chainName(slot)));
        }
    }

    boolean hasVm(int slot) {
        return HostCommand.execute(nft("list", "chain", FAMILY, TABLE, chainName(slot)), null).ok();
    }

    private List<String> nft(String... args) {
        List<String> command = new ArrayList<>(List.of("nft"));
        command.addAll(List.of(args));
        return HostCommand.inNamespace(netns, command);
    }
}
