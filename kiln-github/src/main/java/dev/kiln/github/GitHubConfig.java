package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ConfigFile;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.RSAPrivateKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * How Kiln reaches GitHub as an App. Loaded from a properties file and the environment (the environment
 * wins) and validated at once: every problem is listed together. The key and the webhook secret never
 * appear in {@link #toString()} or in a message.
 *
 * <p>Keys of the file (environment variable in brackets):
 * <ul>
 *   <li>{@code app-id} [KILN_GITHUB_APP_ID]: the App's numeric id, required</li>
 *   <li>{@code private-key-file} [KILN_GITHUB_PRIVATE_KEY_FILE]: the App's PEM key (PKCS#1 as GitHub gives
 *       it, or PKCS#8), required</li>
 *   <li>{@code webhook-secret-file} [KILN_GITHUB_WEBHOOK_SECRET_FILE], or the secret itself in
 *       KILN_GITHUB_WEBHOOK_SECRET: required; never the secret itself in the file</li>
 *   <li>{@code url} [KILN_GITHUB_URL]: {@code https://github.com} (default) or a GitHub Enterprise Server,
 *       e.g. {@code https://ghe.example.com}, whose API is then {@code /api/v3}</li>
 *   <li>{@code api-url} [KILN_GITHUB_API_URL]: the REST API's base when it is not where {@code url} implies</li>
 *   <li>{@code runner-group-id}: the runner group JIT runners join, default 1 (an organisation's "Default")</li>
 *   <li>{@code allow}, {@code deny}: comma-separated {@code owner} or {@code owner/repo}; deny wins; an
 *       empty allow list allows every installation's repositories</li>
 *   <li>{@code org-cap.<owner>}: the most Kiln jobs of that owner at once</li>
 * </ul>
 */
public record GitHubConfig(
        long appId,
        Path privateKeyFile,
        RSAPrivateKey privateKey,
        Secret webhookSecret,
        URI webUrl,
        URI apiUrl,
        long runnerGroupId,
        List<String> allow,
        List<String> deny,
        Map<String, Integer> orgCaps) {

    public static final URI GITHUB_COM = URI.create("https://github.com");
    public static final URI GITHUB_COM_API = URI.create("https://api.github.com");
    public static final long DEFAULT_RUNNER_GROUP_ID = 1;

    static final String APP_ID = "app-id";
    static final String PRIVATE_KEY_FILE = "private-key-file";
    static final String WEBHOOK_SECRET_FILE = "webhook-secret-file";
    static final String URL = "url";
    static final String API_URL = "api-url";
    static final String RUNNER_GROUP_ID = "runner-group-id";
    static final String ALLOW = "allow";
    static final String DENY = "deny";
    static final String ORG_CAP = "org-cap.";
    private static final List<String> KEYS =
            List.of(APP_ID, PRIVATE_KEY_FILE, WEBHOOK_SECRET_FILE, URL, API_URL, RUNNER_GROUP_ID, ALLOW, DENY, ORG_CAP + "<owner>");
    private static final Map<String, String> ENV = Map.of(
            "KILN_GITHUB_APP_ID", APP_ID,
            "KILN_GITHUB_PRIVATE_KEY_FILE", PRIVATE_KEY_FILE,
            "KILN_GITHUB_WEBHOOK_SECRET_FILE", WEBHOOK_SECRET_FILE,
            "KILN_GITHUB_URL", URL,
            "KILN_GITHUB_API_URL", API_URL);
    static final String SECRET_ENV = "KILN_GITHUB_WEBHOOK_SECRET";
    private static final Pattern OWNER = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})");
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9._-]{1,100}");

    public GitHubConfig {
        requireNonNull(privateKeyFile, "privateKeyFile is null");
        requireNonNull(privateKey, "privateKey is null");
        requireNonNull(webhookSecret, "webhookSecret is null");
        requireNonNull(webUrl, "webUrl is null");
        requireNonNull(apiUrl, "apiUrl is null");
        allow = List.copyOf(allow);
        deny = List.copyOf(deny);
        orgCaps = Map.copyOf(new TreeMap<>(orgCaps));
        if (appId < 1) {
            throw new IllegalArgumentException("appId must be positive, got " + appId);
        }
        if (runnerGroupId < 1) {
            throw new IllegalArgumentException("runnerGroupId must be positive, got " + runnerGroupId);
        }
        if (webhookSecret.isEmpty()) {
            throw new IllegalArgumentException("the webhook secret is empty");
        }
    }

    /** A config for tests and embedding: no allow, deny or caps, the default runner group. */
    public static GitHubConfig of(long appId, RSAPrivateKey privateKey, Secret webhookSecret, URI webUrl, URI apiUrl) {
        return new GitHubConfig(appId, Path.of("(in memory)"), privateKey, webhookSecret, webUrl, apiUrl,
                DEFAULT_RUNNER_GROUP_ID, List.of(), List.of(), Map.of());
    }

    /**
     * Reads {@code file} (may be absent when the environment says everything) and the environment.
     *
     * @throws KilnException {@link ErrorCode#INVALID_ARGUMENT} listing every problem at once
     */
    public static GitHubConfig load(Optional<Path> file, Map<String, String> env) {
        List<String> problems = new ArrayList<>();
        Map<String, String> values = ConfigFile.values("GitHub", file, env, ENV, GitHubConfig::isKnown, KEYS,
                Map.of("webhook-secret", SECRET_ENV), problems);

        long appId = 0;
        String appIdText = values.get(APP_ID);
        if (appIdText == null) {
            problems.add(APP_ID + " is missing (the App's numeric id from its settings page; or KILN_GITHUB_APP_ID)");
        } else {
            appId = positive(APP_ID, appIdText, problems);
        }

        Path keyFile = null;
        RSAPrivateKey key = null;
        String keyText = values.get(PRIVATE_KEY_FILE);
        if (keyText == null) {
            problems.add(PRIVATE_KEY_FILE + " is missing (the App's .pem key as GitHub generated it; or KILN_GITHUB_PRIVATE_KEY_FILE)");
        } else {
            keyFile = Path.of(keyText);
            try {
                key = PemKeys.parse(Files.readString(keyFile, StandardCharsets.US_ASCII), keyFile.toString());
            } catch (IOException e) {
                problems.add(PRIVATE_KEY_FILE + ": cannot read " + keyFile + " (" + e.getClass().getSimpleName() + ")");
            } catch (IllegalArgumentException e) {
                problems.add(PRIVATE_KEY_FILE + ": " + e.getMessage());
            }
        }

        String secretText = ConfigFile.secret(WEBHOOK_SECRET_FILE, values.get(WEBHOOK_SECRET_FILE), env.get(SECRET_ENV), SECRET_ENV,
                "the secret entered in the App's webhook settings", problems);
        Secret secret = secretText == null ? null : Secret.of(secretText);

        URI webUrl = GITHUB_COM;
        if (values.containsKey(URL)) {
            webUrl = url(URL, values.get(URL), problems);
        }
        URI apiUrl = null;
        if (values.containsKey(API_URL)) {
            apiUrl = url(API_URL, values.get(API_URL), problems);
        } else if (webUrl != null) {
            apiUrl = webUrl.equals(GITHUB_COM) ? GITHUB_COM_API : URI.create(webUrl.toString().replaceFirst("/$", "") + "/api/v3");
        }

        long group = DEFAULT_RUNNER_GROUP_ID;
        if (values.containsKey(RUNNER_GROUP_ID)) {
            group = positive(RUNNER_GROUP_ID, values.get(RUNNER_GROUP_ID), problems);
        }
        List<String> allow = scopes(ALLOW, values.getOrDefault(ALLOW, ""), problems);
        List<String> deny = scopes(DENY, values.getOrDefault(DENY, ""), problems);
        Map<String, Integer> caps = new TreeMap<>();
        values.forEach((k, v) -> {
            if (k.startsWith(ORG_CAP)) {
                String owner = k.substring(ORG_CAP.length());
                if (!OWNER.matcher(owner).matches()) {
                    problems.add(ConfigFile.shorten(k) + ": '" + ConfigFile.shorten(owner) + "' is not a GitHub account name");
                }
                long cap = positive(k, v, problems);
                if (cap > 100_000) {
                    problems.add(ConfigFile.shorten(k) + ": " + cap + " is more than 100000");
                } else if (cap > 0) {
                    caps.put(owner.toLowerCase(Locale.ROOT), (int) cap);
                }
            }
        });
        ConfigFile.check("GitHub", file, problems);
        return new GitHubConfig(appId, keyFile, key, secret, webUrl, apiUrl, group, allow, deny, caps);
    }

    /** Whether Kiln serves jobs of this repository: a deny entry wins, then an allow list if there is one. */
    public boolean allows(String owner, String repo) {
        String o = owner.toLowerCase(Locale.ROOT);
        String full = o + "/" + repo.toLowerCase(Locale.ROOT);
        if (deny.stream().anyMatch(d -> d.equals(o) || d.equals(full))) {
            return false;
        }
        return allow.isEmpty() || allow.stream().anyMatch(a -> a.equals(o) || a.equals(full));
    }

    /** The most Kiln jobs of this owner at once, if capped. */
    public OptionalInt capFor(String owner) {
        Integer cap = orgCaps.get(owner.toLowerCase(Locale.ROOT));
        return cap == null ? OptionalInt.empty() : OptionalInt.of(cap);
    }

    @Override
    public String toString() {
        return "GitHubConfig[appId=" + appId + ", privateKeyFile=" + privateKeyFile + ", webhookSecret=[secret], webUrl="
                + webUrl + ", apiUrl=" + apiUrl + ", runnerGroupId=" + runnerGroupId + ", allow=" + allow + ", deny="
                + deny + ", orgCaps=" + orgCaps + "]";
    }

    private static boolean isKnown(String key) {
        return KEYS.contains(key) || (key.startsWith(ORG_CAP) && key.length() > ORG_CAP.length());
    }

    private static long positive(String key, String text, List<String> problems) {
        try {
            long value = Long.parseLong(text);
            if (value >= 1) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below with the key and the value
        }
        problems.add(ConfigFile.shorten(key) + ": '" + ConfigFile.shorten(text) + "' is not a positive integer");
        return 0;
    }

    private static URI url(String key, String text, List<String> problems) {
        try {
            URI uri = new URI(text.replaceFirst("/+$", ""));
            boolean loopback = "http".equals(uri.getScheme())
                    && Set.of("localhost", "127.0.0.1", "[::1]").contains(String.valueOf(uri.getHost()));
            if (uri.getHost() != null && ("https".equals(uri.getScheme()) || loopback) && uri.getQuery() == null) {
                return uri;
            }
        } catch (java.net.URISyntaxException e) {
            // reported below
        }
        problems.add(key + ": '" + ConfigFile.shorten(text) + "' is not an https URL such as https://ghe.example.com");
        return null;
    }

    private static List<String> scopes(String key, String text, List<String> problems) {
        List<String> scopes = new ArrayList<>();
        for (String part : text.split(",")) {
            String entry = part.strip();
            if (entry.isEmpty()) {
                continue;
            }
            String[] pieces = entry.split("/", -1);
            boolean ok = OWNER.matcher(pieces[0]).matches() && (pieces.length == 1 || (pieces.length == 2 && REPO.matcher(pieces[1]).matches()));
            if (ok) {
                scopes.add(entry.toLowerCase(Locale.ROOT));
            } else {
                problems.add(key + ": '" + ConfigFile.shorten(entry) + "' is neither an owner (acme) nor a repository (acme/widgets)");
            }
        }
        return scopes;
    }
}
