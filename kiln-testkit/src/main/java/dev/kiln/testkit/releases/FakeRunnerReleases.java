package dev.kiln.testkit.releases;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake of GitHub's releases of {@code actions/runner} on a loopback port: {@code GET
 * /repos/actions/runner/releases/latest} answers the latest release's JSON as GitHub does (a {@code v}-prefixed
 * {@code tag_name}, {@code published_at}, a body whose {@code <!-- BEGIN SHA linux-x64 -->…<!-- END SHA linux-x64 -->}
 * lines carry each tarball's SHA-256, and assets named {@code actions-runner-linux-x64-X.Y.Z.tar.gz} with their
 * {@code size}, {@code browser_download_url} and, on newer releases, {@code digest} "sha256:…"). A download answers
 * 302 to an object URL, as github.com does, which serves the bytes.
 *
 * <p>Faults: {@link Fault#WRONG_CHECKSUM} serves bytes other than those the release's checksums describe (a
 * tampered or truncated mirror), {@link Fault#SERVER_ERROR} answers 503 to everything; {@link #close} makes it
 * unreachable. Thread-safe.
 */
public final class FakeRunnerReleases implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String LATEST = "/repos/actions/runner/releases/latest";
    static final String DOWNLOAD = "/actions/runner/releases/download/";
    static final String OBJECTS = "/_objects/";

    public enum Fault { NONE, WRONG_CHECKSUM, SERVER_ERROR }

    /** Where the release publishes its SHA-256s: the body (every release), the assets' digest field (newer), or both. */
    public enum ChecksumIn { BODY, DIGEST_FIELD, BOTH }

    private record Release(String version, Map<String, byte[]> tarballs, ChecksumIn checksums, Instant publishedAt) {}

    private final HttpServer server;
    private final ExecutorService executor;
    private final URI url;
    private final AtomicInteger apiCalls = new AtomicInteger();
    private final AtomicInteger downloads = new AtomicInteger();
    private volatile Release latest;
    private volatile Fault fault = Fault.NONE;

    private FakeRunnerReleases() throws IOException {
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("fake-releases-", 0).factory());
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        this.url = URI.create("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":"
                + server.getAddress().getPort());
    }

    public static FakeRunnerReleases start() {
        try {
            return new FakeRunnerReleases();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the fake releases server on a loopback port", e);
        }
    }

    /** The API's base, as {@code https://api.github.com} (or {@code https://HOST/api/v3} on GitHub Enterprise). */
    public URI apiUrl() {
        return url;
    }

    /** Where release assets are downloaded from, as {@code https://github.com/actions/runner/releases/download}. */
    public URI downloadUrl() {
        return URI.create(url + DOWNLOAD.substring(0, DOWNLOAD.length() - 1));
    }

    /**
     * Makes {@code version} the latest release, with one tarball per runner arch ({@code x64}, {@code arm64}) named
     * {@code actions-runner-linux-ARCH-VERSION.tar.gz}.
     */
    public void publish(String version, Map<String, byte[]> tarballsByRunnerArch, ChecksumIn checksums, Instant publishedAt) {
        latest = new Release(version, Map.copyOf(tarballsByRunnerArch), checksums, publishedAt);
    }

    public void fault(Fault newFault) {
        fault = newFault;
    }

    /** Calls of the releases API answered so far. */
    public int apiCalls() {
        return apiCalls.get();
    }

    /** Tarballs served so far. */
    public int downloads() {
        return downloads.get();
    }

    public static String assetName(String runnerArch, String version) {
        return "actions-runner-linux-" + runnerArch + "-" + version + ".tar.gz";
    }

    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (fault == Fault.SERVER_ERROR) {
                send(exchange, 503, "application/json", "{\"message\":\"Service Unavailable\"}".getBytes(UTF_8));
                return;
            }
            if (!exchange.getRequestMethod().equals("GET")) {
                send(exchange, 404, "application/json", notFound());
                return;
            }
            Release release = latest;
            if (path.equals(LATEST)) {
                apiCalls.incrementAndGet();
                if (release == null) {
                    send(exchange, 404, "application/json", notFound());
                } else {
                    send(exchange, 200, "application/json; charset=utf-8", releaseJson(release));
                }
            } else if (path.startsWith(DOWNLOAD)) {
                // github.com answers a download with a redirect to its object store.
                String[] parts = path.substring(DOWNLOAD.length()).split("/");
                if (parts.length != 2 || release == null || tarball(release, parts[1]) == null
                        || !parts[0].equals("v" + release.version())) {
                    send(exchange, 404, "text/plain", "Not Found".getBytes(UTF_8));
                    return;
                }
                exchange.getResponseHeaders().set("Location", url + OBJECTS + parts[1]);
                exchange.sendResponseHeaders(302, -1);
            } else if (path.startsWith(OBJECTS)) {
                byte[] bytes = release == null ? null : tarball(release, path.substring(OBJECTS.length()));
                if (bytes == null) {
                    send(exchange, 404, "text/plain", "Not Found".getBytes(UTF_8));
                    return;
                }
                if (fault == Fault.WRONG_CHECKSUM) {
                    bytes = bytes.clone();
                    bytes[bytes.length - 1] ^= 1;
                }
                downloads.incrementAndGet();
                send(exchange, 200, "application/octet-stream", bytes);
            } else {
                send(exchange, 404, "application/json", notFound());
            }
        }
    }

    private static byte[] tarball(Release release, String asset) {
        for (var entry : release.tarballs().entrySet()) {
            if (assetName(entry.getKey(), release.version()).equals(asset)) {
                return entry.getValue();
            }
        }
        return null;
    }

    private byte[] releaseJson(Release release) throws IOException {
        ObjectNode json = JSON.createObjectNode();
        String tag = "v" + release.version();
        json.put("url", url + "/repos/actions/runner/releases/1");
        json.put("html_url", url + "/actions/runner/releases/tag/" + tag);
        json.put("id", 1);
        json.put("tag_name", tag);
        json.put("target_commitish", "main");
        json.put("name", tag);
        json.put("draft", false);
        json.put("prerelease", false);
        json.put("created_at", release.publishedAt().toString());
        json.put("published_at", release.publishedAt().toString());
        StringBuilder body = new StringBuilder("## Features\n- Stand-in release for Kiln's tests\n\n## Linux x64\n");
        ArrayNode assets = json.putArray("assets");
        Map<String, String> sums = new LinkedHashMap<>();
        int id = 10;
        for (var entry : new java.util.TreeMap<>(release.tarballs()).entrySet()) {
            String name = assetName(entry.getKey(), release.version());
            String sum = sha256(entry.getValue());
            sums.put("linux-" + entry.getKey(), sum);
            ObjectNode asset = assets.addObject();
            asset.put("url", url + "/repos/actions/runner/releases/assets/" + id);
            asset.put("id", id++);
            asset.put("name", name);
            asset.put("label", "");
            asset.put("content_type", "application/gzip");
            asset.put("state", "uploaded");
            asset.put("size", entry.getValue().length);
            if (release.checksums() != ChecksumIn.BODY) {
                asset.put("digest", "sha256:" + sum);
            } else {
                asset.putNull("digest"); // releases before June 2025 carry none
            }
            asset.put("download_count", 0);
            asset.put("created_at", release.publishedAt().toString());
            asset.put("updated_at", release.publishedAt().toString());
            asset.put("browser_download_url", downloadUrl() + "/" + tag + "/" + name);
        }
        body.append("```bash\ncurl -o actions-runner-linux-x64-").append(release.version())
                .append(".tar.gz -L ").append(downloadUrl()).append('/').append(tag).append("/actions-runner-linux-x64-")
                .append(release.version()).append(".tar.gz\n```\n\n## SHA-256 Checksums\n\n");
        sums.put("win-x64", "0".repeat(64));
        if (release.checksums() != ChecksumIn.DIGEST_FIELD) {
            sums.forEach((platform, sum) -> body.append("- actions-runner-").append(platform).append("-")
                    .append(release.version()).append(".tar.gz <!-- BEGIN SHA ").append(platform).append(" -->")
                    .append(sum).append("<!-- END SHA ").append(platform).append(" -->\n"));
        }
        json.put("body", body.toString());
        return JSON.writeValueAsBytes(json);
    }

    private static byte[] notFound() {
        return "{\"message\":\"Not Found\",\"documentation_url\":\"https://docs.github.com/rest/releases/releases#get-the-latest-release\",\"status\":\"404\"}"
                .getBytes(UTF_8);
    }

    private static void send(HttpExchange exchange, int status, String type, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", type);
        exchange.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }
}
