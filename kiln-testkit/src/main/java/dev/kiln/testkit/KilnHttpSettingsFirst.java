package dev.kiln.testkit;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Makes Kiln's HTTP settings the JDK's before any test runs. The JDK reads its HttpServer settings once, when
 * the first server of the process is made, and Kiln's server sets them as its class loads
 * ({@code dev.kiln.server.HttpServers}); a fake (GitHub, a release server) made first would fix the JDK's
 * defaults for every Kiln server of the test JVM, which then answers differently from production (a 413 lost
 * to a reset, idle connections cut early). Modules without the server on their class path are left alone.
 */
public final class KilnHttpSettingsFirst implements LauncherSessionListener {
    static final String SETTINGS = "dev.kiln.server.HttpServers";

    @Override
    public void launcherSessionOpened(LauncherSession session) {
        try {
            Class.forName(SETTINGS, true, KilnHttpSettingsFirst.class.getClassLoader());
        } catch (ClassNotFoundException notAServerModule) {
            // This test JVM runs no Kiln server.
        }
    }
}
