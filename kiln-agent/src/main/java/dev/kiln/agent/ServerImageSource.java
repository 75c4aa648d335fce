package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageSource;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * The server's images, fetched with this host's token. Nothing here is trusted: the store checks
 * every byte against the digest the launch named before any VM sees the image.
 */
public final class ServerImageSource implements ImageSource {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI server;
    private final String hostToken;
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10)).build();

    public ServerImageSource(URI server, String hostToken) {
        this.server = requireNonNull(server, "server is null");
        this.hostToken = requireNonNull(hostToken, "hostToken is null");
    }

    @Override
    public ImageManifest manifest(String digest) throws IOException {
        try (InputStream body = get("/api/v1/images/" + digest)) {
            return JSON.readValue(body, ImageManifest.class);
        }
    }

    @Override
    public InputStream open(String digest, String file) throws IOException {
        return get("/api/v1/images/" + digest + "/files/" + file);
    }

    private InputStream get(String path) throws IOException {
        HttpRequest request = HttpRequest.newBuilder(server.resolve(path))
                .header("Authorization", "Bearer " + hostToken).GET().build();
        HttpResponse<InputStream> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted fetching " + path, e);
        }
        if (response.statusCode() != 200) {
            try (InputStream error = response.body()) {
                throw new IOException("the server answered %d to GET %s: %s".formatted(response.statusCode(), path,
                        new String(error.readNBytes(2000), StandardCharsets.UTF_8)));
            }
        }
        return response.body();
    }
}
