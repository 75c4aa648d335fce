package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

/**
 * Where the host reaches a VM's sshd: its address on the VM's tap, in the network namespace that holds the tap
 * (null: the host's own), and the host key it answers with.
 */
public record GuestSshEndpoint(String netns, String address, int port, String hostKey) {
    public static final int PORT = 22;

    public GuestSshEndpoint {
        requireNonNull(address, "address is null");
        requireNonNull(hostKey, "hostKey is null");
    }
}
