package dev.kiln.testkit;

/** Closes what a test made, in the order given, every one even when an earlier one fails. */
public final class Closing {
    private Closing() {}

    /**
     * Closes each of {@code resources} that is not null, in order. The first failure is thrown once all were
     * tried, with the later ones suppressed, so that a fleet that fails to close still leaves its hosts and fakes
     * closed.
     */
    public static void all(AutoCloseable... resources) {
        Throwable first = null;
        for (AutoCloseable resource : resources) {
            if (resource == null) {
                continue;
            }
            try {
                resource.close();
            } catch (Throwable e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first instanceof RuntimeException runtime) {
            throw runtime;
        }
        if (first instanceof Error error) {
            throw error;
        }
        if (first != null) {
            throw new IllegalStateException("closing failed: " + first.getMessage(), first);
        }
    }
}
