package dev.kiln.cli;

import dev.kiln.api.KilnClient;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;

/**
 * Which server the CLI talks to and with which admin token: the flag, else the environment
 * ($KILN_SERVER, $KILN_TOKEN), else the config file ($KILN_CONFIG or ~/.config/kiln/client.properties,
 * keys {@code server} and {@code token}).
 */
final class ClientOptions implements SharedOptions {
    static final Flag SERVER = Flag.value("--server", "URL", String.class,
            "the Kiln server's URL; default: $KILN_SERVER or the config file");
    static final Flag TOKEN = Flag.value("--token", "TOKEN", String.class,
            "the admin token; default: $KILN_TOKEN or the config file");

    private final OptionSet options = new OptionSet(SERVER, TOKEN);

    @Override
    public OptionSet options() {
        return options;
    }

    /** Whether a server is configured anywhere. */
    boolean configured() {
        return server() != null;
    }

    String server() {
        return first(options.<String>get(SERVER), System.getenv("KILN_SERVER"), file().getProperty("server"));
    }

    KilnClient client() {
        String url = server();
        if (url == null) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "no Kiln server configured: pass --server URL, set"
                    + " KILN_SERVER, or put server=URL in " + configFile() + " (`kiln up` starts one)");
        }
        String admin = first(options.<String>get(TOKEN), System.getenv("KILN_TOKEN"), file().getProperty("token"));
        if (admin == null) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "no admin token for " + url + ": pass --token, set"
                    + " KILN_TOKEN, or put token=... in " + configFile() + " (`kiln server` prints where its token is)");
        }
        try {
            return new KilnClient(URI.create(url), admin);
        } catch (IllegalArgumentException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "server '" + url + "' is not a URL such as"
                    + " http://127.0.0.1:7878", e);
        }
    }

    static Path configFile() {
        String explicit = System.getenv("KILN_CONFIG");
        if (explicit != null && !explicit.isBlank()) {
            return Path.of(explicit);
        }
        String xdg = System.getenv("XDG_CONFIG_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".config");
        return base.resolve("kiln").resolve("client.properties");
    }

    private static Properties file() {
        Properties properties = new Properties();
        Path file = configFile();
        if (Files.isRegularFile(file)) {
            try (Reader reader = Files.newBufferedReader(file)) {
                properties.load(reader);
            } catch (IOException e) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read " + file + ": " + e.getMessage(), e);
            }
        }
        return properties;
    }

    private static String first(String... values) {
        for (String value : values) {
            if (value != null && !value.isBlank()) {
                return value.strip();
            }
        }
        return null;
    }
}
