package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.Sha256;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;
import org.tukaani.xz.XZInputStream;

/**
 * The newest version of each binary package in a Debian security suite ({@code bookworm-security}) for an
 * architecture, read as apt reads it: {@code dists/SUITE/InRelease} checked with gpgv against the archive's keyring
 * (or, with no keyring configured, {@code dists/SUITE/Release} unchecked), then the {@code main/binary-ARCH/Packages.xz}
 * (or {@code Packages.gz}) it lists, refused unless its SHA-256 and size are the Release's.
 *
 * <p>Costs nothing when nothing changed: the Release is asked for with {@code If-None-Match}/{@code If-Modified-Since}
 * where the mirror gave validators (a 304 reuses what was read), and a Packages file whose SHA-256 the Release still
 * lists is not fetched again. Pass thread only.
 */
final class SecurityIndex {
    /** Debian's InRelease files are tens of KiB; more is not one. */
    private static final int MAX_RELEASE_BYTES = 4 << 20;
    /** The Release's own size for the Packages file bounds its download; above this it is refused anyway. */
    private static final long MAX_PACKAGES_BYTES = 256L << 20;
    private static final Duration TIMEOUT = Duration.ofMinutes(2);
    /**
     * Debian's security archive serves {@code Packages.xz} alone (its Release lists the uncompressed file's hash, which
     * apt checks after decompressing, but the file answers 404); mirrors and older archives serve {@code .gz}.
     */
    private static final List<String> COMPRESSIONS = List.of(".xz", ".gz");

    private record Validated(String etag, String lastModified, String text) {}

    private record Parsed(String sha256, Map<String, String> newest) {}

    private final URI mirror;
    private final InReleaseSignature signature;
    private final HttpClient http;
    private final InstantSource clock;
    /** The Release last read, per suite, with the validators it came with. */
    private final Map<String, Validated> releases = new HashMap<>();
    /** The Packages file last read, per suite and arch. */
    private final Map<String, Parsed> packages = new HashMap<>();

    /**
     * @param mirror the security archive's base, {@code http://deb.debian.org/debian-security}
     * @param signature checks InRelease, or null to read Release unchecked
     */
    SecurityIndex(URI mirror, InReleaseSignature signature, HttpClient http, InstantSource clock) {
        this.mirror = requireNonNull(mirror, "mirror is null");
        this.signature = signature;
        this.http = requireNonNull(http, "http is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Each binary package's newest version in {@code suite} for Debian's {@code arch} ({@code amd64}, {@code arm64}). */
    Map<String, String> newest(String suite, String arch) {
        ReleaseFile release = release(suite);
        String key = suite + "/" + arch;
        String path = null;
        ReleaseFile.Entry entry = null;
        for (String compression : COMPRESSIONS) {
            String candidate = "main/binary-" + arch + "/Packages" + compression;
            if (release.sha256().containsKey(candidate)) {
                path = candidate;
                entry = release.sha256().get(candidate);
                break;
            }
        }
        if (entry == null) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("the Release of %s at %s lists no"
                    + " main/binary-%s/Packages.xz or Packages.gz").formatted(suite, mirror, arch));
        }
        Parsed known = packages.get(key);
        if (known != null && known.sha256().equals(entry.sha256())) {
            return known.newest();
        }
        URI uri = url(suite, path);
        byte[] body = get(uri, entry.size() + 1, null).body();
        String actual = Sha256.of(body);
        if (body.length != entry.size() || !actual.equals(entry.sha256())) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("%s has SHA-256 %s (%d bytes), but the Release of %s lists"
                    + " %s (%d bytes): refused, no image is rebuilt from it").formatted(uri, actual, body.length, suite,
                    entry.sha256(), entry.size()));
        }
        Map<String, String> newest = parsePackages(uri, body, path.substring(path.lastIndexOf('.')));
        packages.put(key, new Parsed(entry.sha256(), newest));
        return newest;
    }

    private ReleaseFile release(String suite) {
        String file = signature == null ? "Release" : "InRelease";
        URI uri = url(suite, file);
        Validated known = releases.get(suite);
        Response response = get(uri, MAX_RELEASE_BYTES, known);
        String text;
        if (response.status() == 304) {
            text = known.text();
        } else {
            byte[] body = response.body();
            text = signature == null ? new String(body, StandardCharsets.UTF_8) : signature.verify(body, uri.toString());
            releases.put(suite, new Validated(response.etag(), response.lastModified(), text));
        }
        ReleaseFile release;
        try {
            release = ReleaseFile.parse(text);
        } catch (IllegalArgumentException e) {
            releases.remove(suite);
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "%s is not a Release file: %s".formatted(uri, e.getMessage()), e);
        }
        if (!release.describes(suite)) {
            releases.remove(suite);
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("%s describes suite %s (codename %s), not %s: refused")
                    .formatted(uri, release.suite(), release.codename(), suite));
        }
        if (release.validUntil() != null && clock.instant().isAfter(release.validUntil())) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("%s was valid until %s, and it is %s: a stale or replayed"
                    + " mirror; refused").formatted(uri, release.validUntil(), clock.instant()));
        }
        return release;
    }

    /** Reads the stanzas' Package and Version, keeping each package's newest by Debian's ordering. */
    private static Map<String, String> parsePackages(URI from, byte[] body, String compression) {
        Map<String, String> newest = new HashMap<>();
        try (InputStream raw = new ByteArrayInputStream(body);
             InputStream in = compression.equals(".xz") ? new XZInputStream(raw) : new GZIPInputStream(raw);
             BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String name = null;
            String version = null;
            for (String line = lines.readLine(); ; line = lines.readLine()) {
                if (line == null || line.isEmpty()) {
                    if (name != null && version != null) {
                        String seen = newest.get(name);
                        if (seen == null || DebianVersion.ORDER.compare(version, seen) > 0) {
                            newest.put(name, version);
                        }
                    }
                    if (line == null) {
                        break;
                    }
                    name = null;
                    version = null;
                } else if (line.startsWith("Package:")) {
                    name = line.substring(8).strip();
                } else if (line.startsWith("Version:")) {
                    version = line.substring(8).strip();
                    DebianVersion.parse(version);
                }
            }
        } catch (IOException | IllegalArgumentException e) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "%s is not a Packages index: %s".formatted(from,
                    e.getMessage()), e);
        }
        return newest;
    }

    private record Response(int status, byte[] body, String etag, String lastModified) {}

    private Response get(URI uri, long maxBytes, Validated known) {
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(TIMEOUT).header("User-Agent",
                "kiln-image-pipeline").GET();
        if (known != null && known.etag() != null) {
            request.header("If-None-Match", known.etag());
        }
        if (known != null && known.lastModified() != null) {
            request.header("If-Modified-Since", known.lastModified());
        }
        try {
            HttpResponse<InputStream> response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            byte[] body;
            try (InputStream in = response.body()) {
                body = in.readNBytes((int) Math.min(Math.min(maxBytes, MAX_PACKAGES_BYTES), Integer.MAX_VALUE - 8));
            }
            if (response.statusCode() == 304 && known != null) {
                return new Response(304, body, known.etag(), known.lastModified());
            }
            if (response.statusCode() != 200) {
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, "%s answered %d".formatted(uri, response.statusCode()));
            }
            if (body.length >= maxBytes) {
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, "%s is larger than %d bytes: refused".formatted(uri,
                        maxBytes - 1));
            }
            return new Response(200, body, response.headers().firstValue("ETag").orElse(null),
                    response.headers().firstValue("Last-Modified").orElse(null));
        } catch (IOException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot reach Debian's security archive at %s: %s".formatted(uri,
                    e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted fetching " + uri, e);
        }
    }

    private URI url(String suite, String file) {
        String base = mirror.toString().endsWith("/") ? mirror.toString() : mirror + "/";
        return URI.create(base + "dists/" + suite + "/" + file);
    }
}
