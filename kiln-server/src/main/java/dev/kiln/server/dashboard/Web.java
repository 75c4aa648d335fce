package dev.kiln.server.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsExchange;
import dev.kiln.api.ApiError;
import dev.kiln.api.Json;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.server.Exchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/** One request to the dashboard: its path, query, cookie and small form body, and the answers pages give. */
final class Web {
    static final ObjectMapper JSON = Json.strict();
    /** What every dashboard answer carries: nothing but this server's own scripts and styles runs in its pages. */
    private static final Map<String, String> HEADERS = Map.of(
            "Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
                    + " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            "X-Content-Type-Options", "nosniff",
            "Referrer-Policy", "same-origin",
            "X-Frame-Options", "DENY");

    private final HttpExchange http;
    private final Exchange exchange;

    Web(HttpExchange http) {
        this.http = http;
        this.exchange = new Exchange(http);
    }

    String method() {
        return exchange.method();
    }

    String path() {
        return exchange.path();
    }

    /** A query parameter, null when absent or blank (an empty filter field). */
    String query(String name) {
        String value = exchange.query(name);
        return value == null || value.isBlank() ? null : value.strip();
    }

    long queryLong(String name, long fallback, long min, long max) {
        return query(name) == null ? fallback : exchange.queryLong(name, fallback, min, max);
    }

    String bearer() {
        return exchange.bearer();
    }

    String header(String name) {
        return http.getRequestHeaders().getFirst(name);
    }

    /** The value of the cookie {@code name}, or null. */
    String cookie(String name) {
        for (String header : http.getRequestHeaders().getOrDefault("Cookie", java.util.List.of())) {
            for (String part : header.split(";")) {
                int eq = part.indexOf('=');
                if (eq > 0 && part.substring(0, eq).strip().equals(name)) {
                    return part.substring(eq + 1).strip();
                }
            }
        }
        return null;
    }

    /** Whether the browser reached this server over TLS (here, or at a proxy that says so). */
    boolean overTls() {
        return http instanceof HttpsExchange || "https".equalsIgnoreCase(String.valueOf(header("X-Forwarded-Proto")).strip());
    }

    /**
     * Whether the request comes from this server's own pages, as far as the browser says: a browser sends
     * {@code Origin} with every POST, and it must name the host the request was sent to.
     */
    boolean sameOrigin() {
        String origin = header("Origin");
        String host = header("Host");
        if (origin == null) {
            // No browser of the last ten years omits it on a POST; a script without one carries no cookie of ours.
            return true;
        }
        return host != null && (origin.equals("http://" + host) || origin.equals("https://" + host));
    }

    /** A form body ({@code application/x-www-form-urlencoded}) of at most {@code limit} bytes. */
    Map<String, String> form(int limit) {
        try (InputStream in = http.getRequestBody()) {
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the form has more than " + limit + " bytes");
            }
            return Exchange.parseQuery(new String(bytes, StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the form: " + e.getMessage(), e);
        }
    }

    void json(int status, Object body) throws IOException {
        http.getResponseHeaders().set("Cache-Control", "no-store");
        send(status, "application/json", Web.JSON.writeValueAsBytes(body));
    }

    void error(int status, ErrorCode code, String message) throws IOException {
        json(status, new ApiError(code.name(), message));
    }

    void redirect(String to) throws IOException {
        http.getResponseHeaders().set("Location", to);
        send(303, null, new byte[0]);
    }

    void setCookie(String value) {
        http.getResponseHeaders().add("Set-Cookie", value);
    }

    void send(int status, String type, byte[] body) throws IOException {
        HEADERS.forEach(http.getResponseHeaders()::set);
        if (type != null) {
            http.getResponseHeaders().set("Content-Type", type);
        }
        http.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = http.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
