package dev.kiln.core;

/** A host's id, as {@code kiln hosts add} assigns it. */
public record HostId(String value) {
    public HostId {
        Ids.check("host id", value);
    }

    @Override
    public String toString() {
        return value;
    }
}
