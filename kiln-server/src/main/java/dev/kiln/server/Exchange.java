package dev.kiln.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import dev.kiln.api.ApiError;
import dev.kiln.api.Json;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;

/** One HTTP request: its bounded body, query, bearer token, and a JSON answer. */
public final class Exchange {
    static final ObjectMapper READ = Json.strict();
    static final ObjectMapper WRITE = Json.strict();

    /** The body was larger than allowed (HTTP 413). */
    static final class TooLarge extends KilnException {
        TooLarge(String message) {
            super(ErrorCode.INVALID_ARGUMENT, message);
        }
    }

    /** A known path asked with a method it does not answer (HTTP 405 with {@code Allow}). */
    public static final class WrongMethod extends KilnException {
        private final List<String> allowed;

        public WrongMethod(String method, String path, List<String> allowed) {
            super(ErrorCode.INVALID_ARGUMENT, path + " answers " + String.join(", ", allowed) + ", not " + shorten(method));
            this.allowed = List.copyOf(allowed);
        }

        List<String> allowed() {
            return allowed;
        }
    }

    private final HttpExchange http;
    private final Map<String, String> query;

    public Exchange(HttpExchange http) {
        this.http = http;
        this.query = parseQuery(http.getRequestURI().getRawQuery());
    }

    public String method() {
        return http.getRequestMethod();
    }

    public String path() {
        return http.getRequestURI().getPath();
    }

    public String bearer() {
        String header = http.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return null;
        }
        return header.substring(7).strip();
    }

    public String query(String name) {
        return query.get(name);
    }

    public long queryLong(String name, long fallback, long min, long max) {
        String value = query.get(name);
        if (value == null) {
            return fallback;
        }
        try {
            long parsed = Long.parseLong(value);
            if (parsed < min || parsed > max) {
                throw new NumberFormatException();
            }
            return parsed;
        } catch (NumberFormatException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "query parameter " + name + " must be a whole number"
                    + " from " + min + " to " + max + ", got '" + (value.length() > 20 ? value.substring(0, 20) : value) + "'");
        }
    }

    <T> T body(TypeReference<T> type, int limit) {
        byte[] bytes = readBody(limit);
        try {
            return READ.readValue(bytes, type);
        } catch (JsonProcessingException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the request body is not valid: "
                    + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the request body: " + e.getMessage(), e);
        }
    }

    private byte[] readBody(int limit) {
        long declared = contentLength();
        if (declared > limit) {
            // Refused before a byte of it is read.
            throw new TooLarge("the request body has " + declared + " bytes; at most " + limit + " are allowed here");
        }
        try (InputStream in = http.getRequestBody()) {
            byte[] bytes = in.readNBytes(limit + 1);
            if (bytes.length > limit) {
                throw new TooLarge("the request body has more than " + limit + " bytes; at most " + limit + " are allowed here");
            }
            return bytes;
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the request body: " + e.getMessage(), e);
        }
    }

    public void send(int status, Object body) throws IOException {
        byte[] bytes = body == null ? new byte[0] : WRITE.writeValueAsBytes(body);
        http.getResponseHeaders().set("Content-Type", "application/json");
        http.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (OutputStream out = http.getResponseBody()) {
                out.write(bytes);
            }
        }
    }

    public void sendWrongMethod(WrongMethod e) throws IOException {
        http.getResponseHeaders().set("Allow", String.join(", ", e.allowed()));
        send(405, new ApiError(e.code().name(), e.getMessage()));
    }

    /**
     * A failure nobody foresaw: the log keeps the exception (with a reference), the answer only says that
     * it happened, as its text may name internals (SQL, paths, values).
     */
    public void sendUnexpected(Logger log, RuntimeException e) throws IOException {
        String reference = Tokens.newId("e-");
        log.error("{} {} failed unexpectedly (reference {})", method(), shorten(path()), reference, e);
        send(500, new ApiError(ErrorCode.INTERNAL.name(), "the server failed unexpectedly; its log has the details"
                + " under reference " + reference));
    }

    /** The declared {@code Content-Length}, or -1 when none or not a number (the JDK refuses such requests). */
    public long contentLength() {
        String header = http.getRequestHeaders().getFirst("Content-Length");
        if (header == null) {
            return -1;
        }
        try {
            return Long.parseLong(header.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String shorten(String text) {
        return text.length() > 64 ? text.substring(0, 64) + "…" : text;
    }

    /**
     * Ends the exchange. The JDK first reads what is left of the body, up to
     * {@code sun.net.httpserver.drainAmount} (see {@link HttpServers#LINGER_BYTES}), so that the answer is
     * not lost to a reset.
     */
    public void close() {
        http.close();
    }

    /** The fields of a query string or form body ({@code a=1&b=x%20y}). */
    public static Map<String, String> parseQuery(String raw) {
        Map<String, String> result = new HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return result;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            result.put(name, value);
        }
        return result;
    }

    /** The HTTP status of an error code. */
    public static int status(ErrorCode code) {
        if (code == ErrorCode.UNAUTHENTICATED) {
            return 401;
        }
        return switch (code.kind()) {
            case USER_ERROR -> 400;
            case CONFLICT -> 409;
            case NOT_FOUND -> 404;
            case UNAVAILABLE -> 503;
            case INTERNAL -> 500;
        };
    }
}
