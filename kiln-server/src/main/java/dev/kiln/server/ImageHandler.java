package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code GET /api/v1/images/sha256:<hex>} (the manifest) and {@code .../files/<name>} (its bytes),
 * for agents fetching an image they lack. Agents verify every byte against the digest they asked
 * for, so this handler only has to serve what the server's store holds.
 */
final class ImageHandler implements HttpHandler {
    private static final Pattern IMAGE = Pattern.compile("/api/v1/images/(sha256:[0-9a-f]{64})(?:/files/([a-z0-9.]{1,32}))?");

    private final ImageStore images;
    private final HostStore hosts;

    ImageHandler(ImageStore images, HostStore hosts) {
        this.images = requireNonNull(images, "images is null");
        this.hosts = requireNonNull(hosts, "hosts is null");
    }

    @Override
    public void handle(HttpExchange http) throws IOException {
        try (http) {
            Exchange exchange = new Exchange(http);
            try {
                if (!exchange.method().equals("GET")) {
                    throw new Exchange.WrongMethod(exchange.method(), exchange.path(), java.util.List.of("GET"));
                }
                String token = exchange.bearer();
                if (token == null) {
                    throw new KilnException(ErrorCode.UNAUTHENTICATED, "fetching an image needs a host token:"
                            + " `Authorization: Bearer TOKEN`");
                }
                hosts.authenticate(token);
                Matcher matcher = IMAGE.matcher(exchange.path());
                if (!matcher.matches()) {
                    throw new KilnException(ErrorCode.NOT_FOUND, "no image API " + exchange.path()
                            + "; use /api/v1/images/sha256:<digest>[/files/<name>]");
                }
                ImageManifest image = find(matcher.group(1)).orElseThrow(() -> new KilnException(
                        ErrorCode.NOT_FOUND, "this server holds no image " + matcher.group(1)));
                if (matcher.group(2) == null) {
                    exchange.send(200, image);
                } else {
                    serveFile(http, image, matcher.group(2));
                }
            } catch (Exchange.WrongMethod e) {
                exchange.sendWrongMethod(e);
            } catch (KilnException e) {
                int status = switch (e.code().kind()) {
                    case NOT_FOUND -> 404;
                    case USER_ERROR -> e.code() == ErrorCode.UNAUTHENTICATED ? 401 : 400;
                    default -> 500;
                };
                exchange.send(status, new dev.kiln.api.ApiError(e.code().name(), e.getMessage()));
            }
        }
    }

    private Optional<ImageManifest> find(String digest) {
        return images.list().stream().filter(image -> image.digest().equals(digest)).findFirst();
    }

    private void serveFile(HttpExchange http, ImageManifest image, String name) throws IOException {
        if (!image.files().containsKey(name)) {
            byte[] body = ("{\"code\":\"NOT_FOUND\",\"message\":\"image " + image.digest() + " has no file " + name + "\"}")
                    .getBytes(StandardCharsets.UTF_8);
            http.sendResponseHeaders(404, body.length);
            http.getResponseBody().write(body);
            return;
        }
        Path file = images.file(image, name);
        http.getResponseHeaders().set("Content-Type", "application/octet-stream");
        http.sendResponseHeaders(200, Files.size(file));
        try (InputStream in = Files.newInputStream(file); OutputStream out = http.getResponseBody()) {
            in.transferTo(out);
        }
    }
}
