package dev.kiln.core;

/** A job's id, as the server's store assigns it. */
public record JobId(String value) {
    public JobId {
        Ids.check("job id", value);
    }

    @Override
    public String toString() {
        return value;
    }
}
