package dev.kiln.vm;

/** Where a guest command's output goes as it arrives. Called from one thread per VM. */
public interface GuestOutput {
    /** The host is full: the VM waits for room (the message says for what). */
    default void waiting(String message) {}

    /**
     * The VM will run an sshd for a debugging shell, reachable from this host there with this host key; called
     * before the boot (the key is the host's making), so the shell is usable once {@link #ready} comes.
     */
    default void ssh(GuestSshEndpoint endpoint) {}

    /** The guest printed its init marker: it booted and its command starts now. */
    default void ready() {}

    /**
     * The guest printed its init marker {@code sinceStart} after its VMM was started (on the host's clock): its boot
     * time. By default {@link #ready()}.
     */
    default void ready(java.time.Duration sinceStart) {
        ready();
    }

    /**
     * The guest reached a boot phase (kernel → init → network → dockerd → the ready marker).
     *
     * @param sinceStart on the host's clock, since the VMM was started
     * @param guestUptime the guest's own uptime then, in seconds (runs slow under emulation)
     */
    default void phase(String name, java.time.Duration sinceStart, String guestUptime) {}

    void stdout(byte[] bytes, int offset, int length);

    void stderr(byte[] bytes, int offset, int length);

    GuestOutput DISCARD = new GuestOutput() {
        @Override
        public void stdout(byte[] bytes, int offset, int length) {}

        @Override
        public void stderr(byte[] bytes, int offset, int length) {}
    };
}
