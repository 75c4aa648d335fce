package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The official runner's releases, from GitHub's releases API ({@code GET /repos/actions/runner/releases/latest}; on
 * GitHub Enterprise the API's base is {@code https://HOST/api/v3}). A tarball's SHA-256 is read from the asset's
 * {@code digest} ("sha256:…", on releases since mid-2025) and from the release body's {@code <!-- BEGIN SHA
 * linux-x64 -->…<!-- END SHA linux-x64 -->} (every release); where both are given they must agree. A download is
 * hashed as it arrives, into a temporary file that takes the asset's name only once its hash matches: an
 * unverified tarball never lies where a build would take it.
 */
final class RunnerReleases {
    /** The API's answer is a few tens of KiB; more is not a release. */
    private static final int MAX_RELEASE_BYTES = 1 << 20;
    /** A runner tarball is about 200 MiB; a stream past this is refused, not stored. */
    static final long MAX_TARBALL_BYTES = 1L << 30;
    private static final Duration API_TIMEOUT = Duration.ofSeconds(30);
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI apiUrl;
    private final URI downloadUrl;
    private final HttpClient http;

    /**
     * @param apiUrl the releases API's base: {@code https://api.github.com}, or a GitHub Enterprise's
     *     {@code https://HOST/api/v3}
     * @param downloadUrl where tarballs are downloaded from instead of the release's own URLs (a mirror laid out as
     *     {@code https://github.com/actions/runner/releases/download}: {@code BASE/vX.Y.Z/ASSET}), or null
     */
    RunnerReleases(URI apiUrl, URI downloadUrl, HttpClient http) {
        this.apiUrl = requireNonNull(apiUrl, "apiUrl is null");
        this.downloadUrl = downloadUrl;
        this.http = requireNonNull(http, "http is null");
    }

    static HttpClient defaultClient() {
        // github.com answers a download with a redirect to its object store.
        return HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** The latest release's tarball for {@code arch}, with the SHA-256 the release publishes for it. */
    RunnerRelease latest(Arch arch) {
        URI uri = URI.create(stripSlash(apiUrl.toString()) + "/repos/actions/runner/releases/latest");
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(API_TIMEOUT)
                .header("Accept", "application/vnd.github+json").header("X-GitHub-Api-Version", "2022-11-28")
                .header("User-Agent", "kiln-image-pipeline").GET().build();
        byte[] body;
        try {
            HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream in = response.body()) {
                body = in.readNBytes(MAX_RELEASE_BYTES + 1);
            }
            if (response.statusCode() != 200) {
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, "the runner's releases at %s answered %d: %s"
                        .formatted(uri, response.statusCode(),
                                new String(body, 0, Math.min(body.length, 300), StandardCharsets.UTF_8)));
            }
        } catch (IOException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot reach the runner's releases at %s: %s"
                    .formatted(uri, e.toString()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted asking " + uri, e);
        }
        if (body.length > MAX_RELEASE_BYTES) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "the release at %s is larger than %d bytes: not a release"
                    .formatted(uri, MAX_RELEASE_BYTES));
        }
        return parse(uri, body, arch, downloadUrl);
    }

    /** Reads a release's JSON: the tag, the asset for the arch and its checksum. */
    static RunnerRelease parse(URI from, byte[] body, Arch arch, URI downloadUrl) {
        JsonNode release;
        try {
            release = JSON.readTree(body);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "the release at %s is not JSON: %s".formatted(from,
                    e.getMessage()), e);
        }
        String tag = release == null ? "" : release.path("tag_name").asText("");
        if (!tag.matches("v?[0-9]+\\.[0-9]+\\.[0-9]+")) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "the release at %s has tag_name '%s', not vX.Y.Z"
                    .formatted(from, tag));
        }
        String version = tag.startsWith("v") ? tag.substring(1) : tag;
        String runnerArch = RunnerRelease.runnerArch(arch);
        String name = "actions-runner-linux-" + runnerArch + "-" + version + ".tar.gz";
        JsonNode asset = null;
        for (JsonNode candidate : release.path("assets")) {
            if (name.equals(candidate.path("name").asText())) {
                asset = candidate;
            }
        }
        if (asset == null) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "release %s at %s has no asset %s".formatted(tag, from, name));
        }
        String fromDigest = null;
        String digest = asset.path("digest").asText("");
        if (!digest.isEmpty()) {
            if (!digest.startsWith("sha256:") || !HEX.matcher(digest.substring(7).toLowerCase()).matches()) {
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, "release %s: asset %s has digest '%s', not sha256:HEX"
                        .formatted(tag, name, digest));
            }
            fromDigest = digest.substring(7).toLowerCase();
        }
        String fromBody = null;
        String platform = Pattern.quote("linux-" + runnerArch);
        Matcher inBody = Pattern.compile("<!-- BEGIN SHA " + platform + " -->\\s*([0-9a-fA-F]{64})\\s*<!-- END SHA "
                + platform + " -->").matcher(release.path("body").asText(""));
        if (inBody.find()) {
            fromBody = inBody.group(1).toLowerCase();
        }
        if (fromDigest != null && fromBody != null && !fromDigest.equals(fromBody)) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("release %s publishes two SHA-256s for %s: %s in the asset's"
                    + " digest, %s in its notes; nothing is downloaded").formatted(tag, name, fromDigest, fromBody));
        }
        String sha256 = fromDigest != null ? fromDigest : fromBody;
        if (sha256 == null) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("release %s publishes no SHA-256 for %s (neither the asset's"
                    + " digest nor <!-- BEGIN SHA linux-%s --> in its notes): an unverified runner is never used")
                    .formatted(tag, name, runnerArch));
        }
        URI download;
        try {
            download = downloadUrl != null ? URI.create(stripSlash(downloadUrl.toString()) + "/" + tag + "/" + name)
                    : URI.create(asset.path("browser_download_url").asText(""));
        } catch (IllegalArgumentException e) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "release %s: asset %s has a malformed browser_download_url"
                    .formatted(tag, name), e);
        }
        if (download.getScheme() == null || !download.getScheme().startsWith("http")) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "release %s: asset %s has no http(s) download URL ('%s')"
                    .formatted(tag, name, download));
        }
        Instant published;
        try {
            published = Instant.parse(release.path("published_at").asText(""));
        } catch (DateTimeParseException e) {
            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "release %s has published_at '%s', not an instant"
                    .formatted(tag, release.path("published_at").asText("")), e);
        }
        return new RunnerRelease(version, arch, name, download, asset.path("size").asLong(-1), sha256, published);
    }

    /**
     * Downloads the tarball into {@code dir} under its asset's name, verified: a download whose SHA-256 is not the
     * release's is deleted and refused.
     */
    Path download(RunnerRelease release, Path dir) {
        Path target = dir.resolve(release.assetName());
        Path temp = dir.resolve("." + release.assetName() + ".part");
        HttpRequest request = HttpRequest.newBuilder(release.download()).header("User-Agent", "kiln-image-pipeline")
                .timeout(Duration.ofMinutes(2)).GET().build();
        try {
            Files.createDirectories(dir);
            HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            long size = 0;
            try (InputStream in = response.body()) {
                if (response.statusCode() != 200) {
                    throw new KilnException(ErrorCode.UPSTREAM_FAILED, "downloading %s answered %d".formatted(
                            release.download(), response.statusCode()));
                }
                try (OutputStream out = Files.newOutputStream(temp)) {
                    byte[] buffer = new byte[1 << 16];
                    for (int n; (n = in.read(buffer)) > 0; ) {
                        size += n;
                        if (size > MAX_TARBALL_BYTES) {
                            throw new KilnException(ErrorCode.UPSTREAM_FAILED, "%s is larger than %d MiB: refused"
                                    .formatted(release.download(), MAX_TARBALL_BYTES >> 20));
                        }
                        sha.update(buffer, 0, n);
                        out.write(buffer, 0, n);
                    }
                }
            }
            String actual = HexFormat.of().formatHex(sha.digest());
            if (!actual.equals(release.sha256())) {
                throw new KilnException(ErrorCode.UPSTREAM_FAILED, ("%s from %s has SHA-256 %s (%d bytes), but runner"
                        + " release %s publishes %s: refused, nothing is built with it").formatted(release.assetName(),
                        release.download(), actual, size, release.version(), release.sha256()));
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return target;
        } catch (IOException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot download %s: %s".formatted(release.download(), e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted downloading " + release.download(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } finally {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException e) {
                // the next download of the release writes it again
            }
        }
    }

    private static String stripSlash(String url) {
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }
}
