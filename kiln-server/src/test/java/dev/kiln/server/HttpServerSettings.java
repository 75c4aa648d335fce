package dev.kiln.server;

/**
 * Tests that start the fake GitHub (a JDK HttpServer) before any Kiln server call {@link #first()}: the JDK
 * reads its HttpServer settings once, when the first server of the process is made, so a fake made first would
 * fix the JDK's defaults for every later Kiln server in the JVM ({@link HttpServers}; {@code ConnectionsTest}
 * then loses connections).
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
