package dev.kiln.server.dashboard;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The dashboard's files, read from the jar once: pages, script and style are all Kiln's own, nothing is fetched. */
final class Assets {
    static final List<String> NAMES = List.of("app.html", "sign-in.html", "app.js", "sign-in.js", "style.css");

    record Asset(String type, byte[] bytes) {}

    private final Map<String, Asset> assets = new HashMap<>();

    Assets() {
        for (String name : NAMES) {
            try (InputStream in = Assets.class.getResourceAsStream(name)) {
                if (in == null) {
                    throw new IllegalStateException("the dashboard's " + name + " is missing from the jar (under "
                            + Assets.class.getPackageName().replace('.', '/') + "/)");
                }
                assets.put(name, new Asset(type(name), in.readAllBytes()));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the dashboard's " + name + " from the jar", e);
            }
        }
    }

    Optional<Asset> get(String name) {
        return Optional.ofNullable(assets.get(name));
    }

    Asset page(String name) {
        return assets.get(name);
    }

    private static String type(String name) {
        if (name.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        if (name.endsWith(".js")) {
            return "text/javascript; charset=utf-8";
        }
        return "text/css; charset=utf-8";
    }
}
