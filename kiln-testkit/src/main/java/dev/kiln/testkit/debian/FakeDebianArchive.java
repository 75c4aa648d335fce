package dev.kiln.testkit.debian;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.kiln.testkit.releases.FakeRunnerReleases;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.time.InstantSource;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPOutputStream;
import org.tukaani.xz.LZMA2Options;
import org.tukaani.xz.XZOutputStream;

/**
 * A fake of Debian's security archive ({@code http://deb.debian.org/debian-security}) on a loopback port, laid out as
 * the real one: {@code dists/SUITE/Release} (Origin, Label, Suite, Codename, Date, Valid-Until, Architectures,
 * Components and the SHA256 list of every index), {@code dists/SUITE/InRelease} (the Release clear-signed with a
 * {@link TestArchiveKey}, when one is given) and {@code dists/SUITE/main/binary-ARCH/Packages.xz} (and
 * {@code Packages.gz}, which older archives and some mirrors serve; {@link #withoutXz}), stanzas of Package, Source,
 * Version, Architecture, Filename, Size, SHA256 and more. As Debian's, the Release lists the uncompressed
 * {@code Packages} too, which answers 404. The Release and InRelease carry an ETag and Last-Modified and answer 304 to a
 * request that names them.
 *
 * <p>Faults: {@link Fault#WRONG_HASH} serves Packages files other than those the Release describes (a tampered or
 * half-synced mirror); {@link Fault#SERVER_ERROR} answers 503. Thread-safe.
 */
public final class FakeDebianArchive implements AutoCloseable {
    public enum Fault { NONE, WRONG_HASH, SERVER_ERROR }

    private static final DateTimeFormatter RELEASE_DATE = DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'UTC'",
            Locale.ROOT).withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter HTTP_DATE = DateTimeFormatter.RFC_1123_DATE_TIME.withZone(ZoneOffset.UTC);

    /** A suite as published: its files by path under {@code dists/SUITE/}, and the validators of its Release. */
    private record Published(Map<String, byte[]> files, String etag, String lastModified) {}

    private final HttpServer server;
    private final ExecutorService executor;
    private final URI url;
    private final InstantSource clock;
    private final TestArchiveKey key;
    private final Map<String, Map<String, Map<String, String>>> packages = new TreeMap<>();
    private final Map<String, Published> suites = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> served = new ConcurrentHashMap<>();
    private final AtomicInteger notModified = new AtomicInteger();
    private volatile Fault fault = Fault.NONE;
    private volatile boolean xz = true;

    private FakeDebianArchive(InstantSource clock, TestArchiveKey key) throws IOException {
        this.clock = clock;
        this.key = key;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("fake-debian-", 0).factory());
        server.setExecutor(executor);
        server.createContext("/", this::handle);
        server.start();
        this.url = URI.create("http://" + InetAddress.getLoopbackAddress().getHostAddress() + ":"
                + server.getAddress().getPort() + "/debian-security");
    }

    /**
     * Starts an archive whose Release says it is valid for a week from {@code clock}'s time of publication.
     *
     * @param key signs InRelease, or null for an archive that serves Release only
     */
    public static FakeDebianArchive start(InstantSource clock, TestArchiveKey key) {
        try {
            return new FakeDebianArchive(clock, key);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the fake Debian archive on a loopback port", e);
        }
    }

    /** The archive's base, as {@code http://deb.debian.org/debian-security}. */
    public URI url() {
        return url;
    }

    /**
     * Publishes {@code versions} (binary package to version) as the suite's packages for Debian's {@code arch}, with
     * a new Release dated now.
     */
    public synchronized void publish(String suite, String arch, Map<String, String> versions) {
        packages.computeIfAbsent(suite, s -> new TreeMap<>()).put(arch, new TreeMap<>(versions));
        Map<String, byte[]> files = new TreeMap<>();
        for (var byArch : packages.get(suite).entrySet()) {
            byte[] plain = packagesFile(byArch.getKey(), byArch.getValue());
            files.put("main/binary-" + byArch.getKey() + "/Packages", plain);
            files.put("main/binary-" + byArch.getKey() + "/Packages.gz", gzip(plain));
            if (xz) {
                files.put("main/binary-" + byArch.getKey() + "/Packages.xz", xz(plain));
            }
        }
        StringBuilder release = new StringBuilder()
                .append("Origin: Debian\nLabel: Debian-Security\nSuite: stable-security\nVersion: 12\n")
                .append("Codename: ").append(suite).append('\n')
                .append("Date: ").append(RELEASE_DATE.format(clock.instant())).append('\n')
                .append("Valid-Until: ").append(RELEASE_DATE.format(clock.instant().plus(Duration.ofDays(7)))).append('\n')
                .append("Acquire-By-Hash: no\n")
                .append("Architectures: ").append(String.join(" ", packages.get(suite).keySet())).append('\n')
                .append("Components: updates/main\nDescription: Debian 12 - Security Updates (Kiln's fake)\nSHA256:\n");
        files.forEach((path, bytes) -> release.append(' ').append(FakeRunnerReleases.sha256(bytes)).append(' ')
                .append(String.format("%8d", bytes.length)).append(' ').append(path).append('\n'));
        byte[] releaseBytes = release.toString().getBytes(UTF_8);
        files.put("Release", releaseBytes);
        if (key != null) {
            files.put("InRelease", key.clearSign(releaseBytes));
        }
        suites.put(suite, new Published(files, "\"" + FakeRunnerReleases.sha256(releaseBytes).substring(0, 16) + "\"",
                HTTP_DATE.format(clock.instant())));
    }

    /** From the next {@link #publish}, serves and lists no {@code Packages.xz}: an archive of {@code .gz} only. */
    public void withoutXz() {
        xz = false;
    }

    public void fault(Fault newFault) {
        fault = newFault;
    }

    /** How often the file at {@code dists/SUITE/PATH} was served with its bytes (not counting 304s). */
    public int served(String suite, String path) {
        AtomicInteger count = served.get(suite + "/" + path);
        return count == null ? 0 : count.get();
    }

    /** Requests answered 304 Not Modified. */
    public int notModified() {
        return notModified.get();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            if (fault == Fault.SERVER_ERROR) {
                send(exchange, 503, "Service Unavailable".getBytes(UTF_8));
                return;
            }
            String prefix = url.getPath() + "/dists/";
            String path = exchange.getRequestURI().getPath();
            if (!exchange.getRequestMethod().equals("GET") || !path.startsWith(prefix)) {
                send(exchange, 404, "Not Found".getBytes(UTF_8));
                return;
            }
            String[] parts = path.substring(prefix.length()).split("/", 2);
            Published suite = parts.length == 2 ? suites.get(parts[0]) : null;
            // Debian lists the uncompressed Packages in the Release but serves it compressed only.
            byte[] bytes = suite == null || parts[1].endsWith("/Packages") ? null : suite.files().get(parts[1]);
            if (bytes == null) {
                send(exchange, 404, "Not Found".getBytes(UTF_8));
                return;
            }
            boolean release = parts[1].equals("Release") || parts[1].equals("InRelease");
            if (release) {
                exchange.getResponseHeaders().set("ETag", suite.etag());
                exchange.getResponseHeaders().set("Last-Modified", suite.lastModified());
                String match = exchange.getRequestHeaders().getFirst("If-None-Match");
                String since = exchange.getRequestHeaders().getFirst("If-Modified-Since");
                if (suite.etag().equals(match) || (match == null && suite.lastModified().equals(since))) {
                    notModified.incrementAndGet();
                    exchange.sendResponseHeaders(304, -1);
                    return;
                }
            } else if (fault == Fault.WRONG_HASH) {
                byte[] tampered = "Package: tampered\nVersion: 1.0\n\n".getBytes(UTF_8);
                bytes = parts[1].endsWith(".gz") ? gzip(tampered) : parts[1].endsWith(".xz") ? xz(tampered) : tampered;
            }
            served.computeIfAbsent(parts[0] + "/" + parts[1], p -> new AtomicInteger()).incrementAndGet();
            send(exchange, 200, bytes);
        }
    }

    private static byte[] packagesFile(String arch, Map<String, String> versions) {
        StringBuilder text = new StringBuilder();
        versions.forEach((name, version) -> {
            String file = "pool/updates/main/" + name.charAt(0) + "/" + name + "/" + name + "_"
                    + version.replaceFirst("^[0-9]+:", "") + "_" + arch + ".deb";
            text.append("Package: ").append(name).append('\n')
                    .append("Source: ").append(name).append('\n')
                    .append("Version: ").append(version).append('\n')
                    .append("Installed-Size: 100\n")
                    .append("Maintainer: Debian Security Team <team@security.debian.org>\n")
                    .append("Architecture: ").append(arch).append('\n')
                    .append("Description: ").append(name).append(" (Kiln's fake archive)\n")
                    .append("Multi-Arch: same\n")
                    .append("Section: libs\nPriority: optional\n")
                    .append("Filename: ").append(file).append('\n')
                    .append("Size: 1000\n")
                    .append("SHA256: ").append(FakeRunnerReleases.sha256(file.getBytes(UTF_8))).append("\n\n");
        });
        return text.toString().getBytes(UTF_8);
    }

    private static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static byte[] xz(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (XZOutputStream xz = new XZOutputStream(out, new LZMA2Options())) {
            xz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static void send(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/plain");
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
