package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.ApiError;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.github.BodyMemory;
import dev.kiln.github.OtherEvent;
import dev.kiln.github.PingEvent;
import dev.kiln.github.WebhookEvent;
import dev.kiln.github.WebhookEvents;
import dev.kiln.github.WebhookException;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.github.WorkflowJobEvent;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /webhooks/github}: checks {@code X-Hub-Signature-256} as the body arrives, up to a bound (413),
 * in constant time (401, and nothing is stored), holding unverified bytes within a shared budget
 * ({@link DeliveryMemory}, 503 when it stays full), parses it (400), keeps the delivery before answering (a
 * delivery id seen before is answered 200 and ignored), then acts on it. GitHub waits 10 s and never
 * redelivers by itself, so the answer comes as soon as the delivery is stored and applied; a delivery
 * whose processing failed stays stored and is processed again by the GitHub loop.
 */
final class WebhookHandler implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(WebhookHandler.class);

    private final WebhookVerifier verifier;
    private final BodyMemory memory;
    private final GitHubStore store;

    WebhookHandler(WebhookVerifier verifier, BodyMemory memory, GitHubStore store) {
        this.verifier = requireNonNull(verifier, "verifier is null");
        this.memory = requireNonNull(memory, "memory is null");
        this.store = requireNonNull(store, "store is null");
    }

    /** What Kiln answers a delivery it took. */
    record Answer(String status, String message) {}

    @Override
    public void handle(HttpExchange http) throws IOException {
        Exchange exchange = new Exchange(http);
        try {
            if (!http.getRequestURI().getPath().equals("/webhooks/github")) {
                exchange.send(404, new ApiError(ErrorCode.NOT_FOUND.name(), "GitHub delivers with POST /webhooks/github"));
                return;
            }
            if (!http.getRequestMethod().equals("POST")) {
                exchange.sendWrongMethod(new Exchange.WrongMethod(http.getRequestMethod(), "/webhooks/github",
                        java.util.List.of("POST")));
                return;
            }
            byte[] body = verifier.readVerified(http.getRequestBody(), exchange.contentLength(),
                    http.getRequestHeaders().getFirst("X-Hub-Signature-256"), memory);
            WebhookEvent event = WebhookEvents.parse(http.getRequestHeaders().getFirst("X-GitHub-Event"),
                    http.getRequestHeaders().getFirst("X-GitHub-Delivery"), body);
            String action = event instanceof WorkflowJobEvent job ? job.action().wireName()
                    : event instanceof OtherEvent other ? other.action() : null;
            if (!store.store(event.deliveryId(), event.event(), action == null ? null : shorten(action, 64), body)) {
                exchange.send(200, new Answer("duplicate", "delivery " + event.deliveryId() + " was received before; ignored"));
                return;
            }
            int status = event instanceof OtherEvent ? 202 : 200;
            exchange.send(status, process(event));
        } catch (WebhookException e) {
            log.info("refused a GitHub delivery ({}): {}", e.httpStatus(), e.getMessage());
            exchange.send(e.httpStatus(), new ApiError(e.code().name(), e.getMessage()));
        } catch (KilnException e) {
            log.warn("a GitHub delivery could not be stored: {}", e.getMessage());
            exchange.send(ApiHandler.status(e.code()), new ApiError(e.code().name(), e.getMessage()));
        } catch (RuntimeException e) {
            exchange.sendUnexpected(log, e);
        } finally {
            exchange.drainAndClose();
        }
    }

    /** Acts on a stored delivery and records the outcome; a failure leaves it for the GitHub loop to retry. */
    Answer process(WebhookEvent event) {
        String outcome;
        String status;
        try {
            switch (event) {
                case PingEvent ping -> {
                    status = "pong";
                    outcome = "ping from hook " + ping.hookId() + (ping.appId() == null ? "" : " of App " + ping.appId());
                }
                case OtherEvent other -> {
                    status = "ignored";
                    outcome = "Kiln acts on workflow_job; " + other.event() + (other.action() == null ? "" : "/" + other.action())
                            + " was stored and ignored";
                }
                case WorkflowJobEvent job -> {
                    outcome = store.apply(job);
                    status = outcome.startsWith("ignored") ? "ignored" : "accepted";
                }
            }
        } catch (KilnException e) {
            log.warn("GitHub delivery {} ({}) is stored but could not be processed: {}; it will be retried",
                    event.deliveryId(), event.event(), e.getMessage());
            return new Answer("stored", "delivery " + event.deliveryId() + " is stored; processing failed and will be retried");
        }
        store.processed(event.deliveryId(), outcome);
        log.debug("GitHub delivery {} ({}): {}", event.deliveryId(), event.event(), outcome);
        return new Answer(status, outcome);
    }

    private static String shorten(String text, int max) {
        return text.length() <= max ? text : text.substring(0, max);
    }
}
