package dev.kiln.vm;

import java.util.ArrayList;
import java.util.List;

/** One tap per VM with a routed /30: the host end gets the first address, the guest the second. */
final class TapDevices {
    static final String PREFIX = "kilntap";

    private final String netns;

    TapDevices(String netns) {
        this.netns = netns;
    }

    static String name(int slot) {
        return PREFIX + slot;
    }

    void create(String tap, String hostAddress, String owner) {
        // No IPv6 address on the host's end: VMs get IPv4 only (the firewall drops their IPv6).
        HostCommand.run(ip("-batch", "-"), String.join("\n",
                "tuntap add dev %s mode tap user %s".formatted(tap, owner),
                "link set dev %s addrgenmode none".formatted(tap),
                "addr add %s/30 dev %s".formatted(hostAddress, tap),
                "link set %s up".formatted(tap)) + "\n");
    }

    /** Removes the tap; a tap that is already gone is fine (undo after a crash). */
    void remove(String tap) {
        HostCommand.Result result = HostCommand.execute(ip("link", "del", tap), null);
        if (!result.ok() && !result.stderr().contains("Cannot find device")) {
            HostCommand.run(ip("link", "del", tap));
        }
    }

    boolean exists(String tap) {
        return HostCommand.execute(ip("link", "show", tap), null).ok();
    }

    private List<String> ip(String... args) {
        List<String> command = new ArrayList<>(List.of("ip"));
        if (netns != null) {
            command.addAll(List.of("-n", netns));
        }
        command.addAll(List.of(args));
        return command;
    }
}
