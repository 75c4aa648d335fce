package dev.kiln.api;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;

/** JSON over HTTP with a bearer token; every failure becomes a {@link KilnException}. Thread-safe. */
final class HttpApi {
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    private static final ObjectMapper JSON = Json.lenient();

    private final URI server;
    private final String token;
    private final HttpClient http;

    HttpApi(URI server, String token) {
        requireNonNull(server, "server is null");
        String base = server.toString();
        this.server = URI.create(base.endsWith("/") ? base.substring(0, base.length() - 1) : base);
        this.token = token;
        // HTTP/1.1 only: the JDK's HttpServer speaks nothing else (an HTTP/2 client would offer it an h2c
        // upgrade it never takes). Pooled connections are dropped after 30 s idle (the
        // JDK's jdk.httpclient.keepalive.timeout), before the Kiln server closes them (its HttpServers):
        // a request never goes out on a connection the server is closing, so none is ever repeated.
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
                .version(HttpClient.Version.HTTP_1_1).build();
    }

    URI server() {
        return server;
    }

    <T> T get(String path, TypeReference<T> type) {
        return send(request(path, REQUEST_TIMEOUT).GET(), type);
    }

    <T> T get(String path, Duration timeout, TypeReference<T> type) {
        return send(request(path, timeout).GET(), type);
    }

    <T> T post(String path, Object body, TypeReference<T> type) {
        return post(path, body, REQUEST_TIMEOUT, type);
    }

    <T> T post(String path, Object body, Duration timeout, TypeReference<T> type) {
        byte[] bytes;
        try {
            bytes = body == null ? new byte[0] : JSON.writeValueAsBytes(body);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INTERNAL, "cannot write the request to " + path + ": " + e, e);
        }
        return send(request(path, timeout).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofByteArray(bytes)), type);
    }

    <T> T delete(String path, TypeReference<T> type) {
        return send(request(path, REQUEST_TIMEOUT).DELETE(), type);
    }

    private HttpRequest.Builder request(String path, Duration timeout) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(server + path)).timeout(timeout)
                .header("Accept", "application/json");
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder;
    }

    private <T> T send(HttpRequest.Builder builder, TypeReference<T> type) {
        HttpRequest request = builder.build();
        HttpResponse<byte[]> response;
        try {
            response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        } catch (HttpConnectTimeoutException | ConnectException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot reach the Kiln server at " + server + ": "
                    + describe(e) + "; is `kiln server` (or `kiln up`) running there?", e);
        } catch (HttpTimeoutException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "the Kiln server at " + server + " did not answer "
                    + request.method() + " " + request.uri().getPath() + " within "
                    + request.timeout().map(Duration::toSeconds).orElse(0L) + " s", e);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "lost the connection to the Kiln server at " + server
                    + " during " + request.method() + " " + request.uri().getPath() + ": " + describe(e), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted while waiting for the Kiln server", e);
        }
        int status = response.statusCode();
        if (status / 100 != 2) {
            throw error(request, status, response.body());
        }
        if (type == null || response.body().length == 0) {
            return null;
        }
        try {
            return JSON.readValue(response.body(), type);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INTERNAL, "the Kiln server at " + server + " answered "
                    + request.uri().getPath() + " with JSON this client cannot read: " + e.getMessage(), e);
        }
    }

    private KilnException error(HttpRequest request, int status, byte[] body) {
        try {
            ApiError error = JSON.readValue(body, ApiError.class);
            if (error.code() != null && error.message() != null) {
                ErrorCode code;
                try {
                    code = ErrorCode.valueOf(error.code());
                } catch (IllegalArgumentException unknown) {
                    code = ErrorCode.INTERNAL;
                }
                return new KilnException(code, error.message());
            }
        } catch (IOException notJson) {
            // Fall through: not one of ours (a proxy, another program on the port).
        }
        return new KilnException(status >= 500 ? ErrorCode.UNAVAILABLE : ErrorCode.INTERNAL,
                "%s %s answered HTTP %d without a Kiln error; is %s a Kiln server?"
                        .formatted(request.method(), request.uri(), status, server));
    }

    private static String describe(Exception e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    static String encode(String segment) {
        return java.net.URLEncoder.encode(segment, java.nio.charset.StandardCharsets.UTF_8).replace("+", "%20");
    }
}
