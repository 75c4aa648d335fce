package dev.kiln.server;

/**
 * Code run outside JUnit (the intake campaign's {@code main}) that starts the fake GitHub (a JDK HttpServer)
 * before any Kiln server calls {@link #first()}: the JDK reads its HttpServer settings once, when the first
 * server of the process is made, so a fake made first would fix the JDK's defaults for every later Kiln server
 * in the JVM ({@link HttpServers}). Under JUnit, {@code KilnHttpSettingsFirst} (kiln-testkit) does this.
 */
final class HttpServerSettings {
    private HttpServerSettings() {}

    static void first() {
        try {
            Class.forName(HttpServers.class.getName(), true, HttpServers.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException(e);
        }
    }
}
