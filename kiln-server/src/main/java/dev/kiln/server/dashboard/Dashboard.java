package dev.kiln.server.dashboard;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.server.ControlPlane;

/** The dashboard's entry: its routes on the server's listener. */
public final class Dashboard {
    private Dashboard() {}

    /**
     * Serves the pages at {@code /} (every path no other handler takes) and the admin's viewer tokens at
     * {@code /api/v1/viewer-tokens}.
     */
    public static void install(HttpServer server, ControlPlane control) {
        server.createContext("/", new DashboardHandler(control, new Sessions(control), new Assets()));
        server.createContext(ViewerTokenHandler.PATH, new ViewerTokenHandler(control, new ViewerTokens(control)));
    }
}
