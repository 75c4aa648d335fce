package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.util.Locale;
import java.util.Optional;

/** A CPU architecture. Hosts are always concrete; a job may ask for {@link #ANY}. */
public enum Arch {
    X86_64("x86_64"),
    ARM64("arm64"),
    /** A job that runs on either architecture; never a host's arch. */
    ANY("any");

    private final String id;

    Arch(String id) {
        this.id = id;
    }

    /** The canonical lower-case name used in labels, reports and messages: x86_64, arm64, any. */
    public String id() {
        return id;
    }

    /** Whether a job asking for this arch can run on a host of {@code hostArch}. */
    public boolean runsOn(Arch hostArch) {
        requireNonNull(hostArch, "hostArch is null");
        return this == ANY || this == hostArch;
    }

    /**
     * Reads a name as labels, {@code uname -m} and Debian spell it: x86_64, amd64, arm64, aarch64 and
     * any, in any case.
     */
    public static Optional<Arch> parse(String name) {
        requireNonNull(name, "name is null");
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "x86_64", "amd64" -> Optional.of(X86_64);
            case "arm64", "aarch64" -> Optional.of(ARM64);
            case "any" -> Optional.of(ANY);
            default -> Optional.empty();
        };
    }

    @Override
    public String toString() {
        return id;
    }
}
