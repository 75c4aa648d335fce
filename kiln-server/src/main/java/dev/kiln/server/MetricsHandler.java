package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /metrics} in Prometheus' text format, for a scraper that sends the admin token as
 * {@code Authorization: Bearer}: host names and job counts are the operator's business, not the internet's.
 */
final class MetricsHandler implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(MetricsHandler.class);
    private final Metrics metrics;
    private final String adminToken;

    MetricsHandler(Metrics metrics, String adminToken) {
        this.metrics = requireNonNull(metrics, "metrics is null");
        this.adminToken = requireNonNull(adminToken, "adminToken is null");
    }

    @Override
    public void handle(HttpExchange http) throws IOException {
        try (http) {
            if (!http.getRequestURI().getPath().equals("/metrics")) {
                text(http, 404, "no page " + http.getRequestURI().getPath() + " (metrics are at /metrics)\n");
                return;
            }
            if (!http.getRequestMethod().equals("GET")) {
                http.getResponseHeaders().set("Allow", "GET");
                text(http, 405, "/metrics answers GET only\n");
                return;
            }
            String token = new Exchange(http).bearer();
            if (token == null || !Tokens.sameSecret(token, adminToken)) {
                http.getResponseHeaders().set("WWW-Authenticate", "Bearer");
                text(http, 401, "/metrics needs the admin token as `Authorization: Bearer TOKEN`"
                        + " (Prometheus: authorization.credentials_file)\n");
                return;
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream(16 << 10);
            PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
            writer.write(body, metrics.scrape());
            http.getResponseHeaders().set("Content-Type", writer.getContentType());
            http.sendResponseHeaders(200, body.size());
            try (OutputStream out = http.getResponseBody()) {
                body.writeTo(out);
            }
        } catch (RuntimeException e) {
            // As the API answers: a reference to the log line, never the exception's text.
            new Exchange(http).sendUnexpected(log, e);
        }
    }

    private static void text(HttpExchange http, int status, String message) throws IOException {
        byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
        http.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        http.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = http.getResponseBody()) {
            out.write(bytes);
        }
    }
}
