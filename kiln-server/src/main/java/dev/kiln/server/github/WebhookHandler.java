package dev.kiln.server.github;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.ApiError;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.github.BodyMemory;
import dev.kiln.github.OtherEvent;
import dev.kiln.github.PingEvent;
import dev.kiln.github.UnusableEvent;
import dev.kiln.github.WebhookEvent;
import dev.kiln.github.WebhookEvents;
import dev.kiln.github.WebhookException;
import dev.kiln.github.WebhookVerifier;
import dev.kiln.github.WorkflowJobEvent;
import dev.kiln.server.DeliveryMemory;
import dev.kiln.server.Exchange;
import dev.kiln.server.WebhookOutcomes.Outcome;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /webhooks/github}: checks {@code X-Hub-Signature-256} as the body arrives, up to a bound (413),
 * in constant time (401, and nothing is stored), holding unverified bytes within a shared budget
 * ({@link DeliveryMemory}, 503 when it stays full), then keeps every verified delivery before answering (a delivery
 * id seen before is answered 200 and ignored), whatever its shape: GitHub never redelivers by itself. Only
 * what Kiln uses is read ({@link WebhookEvents}); the answer is 2xx unless the headers name no event or the
 * body is not a JSON object (400, the delivery still kept with the reason), or a {@code ping} comes from a hook
 * that is not Kiln's App (403 naming both ids, so that GitHub shows the misconfiguration). A delivery whose
 * processing failed stays stored and is processed again by the GitHub loop.
 */
final class WebhookHandler implements HttpHandler {
    private static final Logger log = LoggerFactory.getLogger(WebhookHandler.class);

    private final WebhookVerifier verifier;
    private final BodyMemory memory;
    private final GitHubStore store;
    private final long appId;

    private final java.util.function.Consumer<Outcome> outcomes;

    /** @param outcomes counts what became of each delivery (for /metrics) */
    WebhookHandler(WebhookVerifier verifier, BodyMemory memory, GitHubStore store, long appId,
            java.util.function.Consumer<Outcome> outcomes) {
        this.outcomes = requireNonNull(outcomes, "outcomes is null");
        this.verifier = requireNonNull(verifier, "verifier is null");
        this.memory = requireNonNull(memory, "memory is null");
        this.store = requireNonNull(store, "store is null");
        this.appId = appId;
    }

    /** What Kiln answers a delivery it took. */
    record Answer(String status, String message) {}

    /** The HTTP status and body of an answer. */
    record Reply(int http, Object body) {}

    @Override
    public void handle(HttpExchange http) throws IOException {
        Exchange exchange = new Exchange(http);
        Outcome outcome = Outcome.FAILED;
        try {
            if (!http.getRequestURI().getPath().equals("/webhooks/github")) {
                outcome = Outcome.REFUSED;
                exchange.send(404, new ApiError(ErrorCode.NOT_FOUND.name(), "GitHub delivers with POST /webhooks/github"));
                return;
            }
            if (!http.getRequestMethod().equals("POST")) {
                outcome = Outcome.REFUSED;
                exchange.sendWrongMethod(new Exchange.WrongMethod(http.getRequestMethod(), "/webhooks/github",
                        java.util.List.of("POST")));
                return;
            }
            Headers headers = http.getRequestHeaders();
            byte[] body = verifier.readVerified(http.getRequestBody(), exchange.contentLength(),
                    headers.getFirst("X-Hub-Signature-256"), memory);
            Reply reply = take(headers.getFirst("X-GitHub-Event"), headers.getFirst("X-GitHub-Delivery"),
                    headers.getFirst("Content-Type"), body);
            outcome = outcome(reply);
            exchange.send(reply.http(), reply.body());
        } catch (WebhookException e) {
            outcome = switch (e.code()) {
                case UNAUTHENTICATED -> Outcome.BAD_SIGNATURE;
                case PAYLOAD_TOO_LARGE -> Outcome.TOO_LARGE;
                case UNAVAILABLE -> Outcome.BUSY;
                default -> Outcome.INVALID;
            };
            log.info("refused a GitHub delivery ({}): {}", e.httpStatus(), e.getMessage());
            exchange.send(e.httpStatus(), new ApiError(e.code().name(), e.getMessage()));
        } catch (KilnException e) {
            log.warn("a GitHub delivery could not be stored: {}", e.getMessage());
            exchange.send(Exchange.status(e.code()), new ApiError(e.code().name(), e.getMessage()));
        } catch (RuntimeException e) {
            exchange.sendUnexpected(log, e);
        } finally {
            outcomes.accept(outcome);
            exchange.close();
        }
    }

    /** What became of a delivery that was read, by the answer it got. */
    static Outcome outcome(Reply reply) {
        if (reply.body() instanceof Answer answer) {
            return switch (answer.status()) {
                case "accepted" -> Outcome.ACCEPTED;
                case "duplicate" -> Outcome.DUPLICATE;
                case "ignored" -> Outcome.IGNORED;
                case "pong" -> Outcome.PING;
                default -> Outcome.FAILED; // stored, its processing retried
            };
        }
        return reply.http() == 400 ? Outcome.INVALID : Outcome.REFUSED;
    }

    /**
     * Stores a verified delivery and acts on it. A delivery without a usable {@code X-GitHub-Delivery} is keyed
     * by its body's digest, so that it is still stored once.
     */
    Reply take(String event, String deliveryHeader, String contentType, byte[] body) {
        String id = WebhookEvents.isDeliveryId(deliveryHeader) ? deliveryHeader : WebhookEvents.derivedId(body);
        WebhookEvent parsed = null;
        WebhookException refused = null;
        try {
            parsed = WebhookEvents.parse(event, id, WebhookEvents.payload(contentType, body));
        } catch (WebhookException e) {
            refused = e;
        }
        String action = switch (parsed) {
            case WorkflowJobEvent job -> job.action().wireName();
            case OtherEvent other -> other.action();
            case UnusableEvent unusable -> unusable.action();
            case null, default -> null;
        };
        if (!store.store(id, WebhookEvents.isEventName(event) ? event : GitHubStore.NO_EVENT, action, contentType, body)) {
            return new Reply(200, new Answer("duplicate", "delivery " + id + " was received before; ignored"));
        }
        if (refused != null) {
            store.processed(id, "refused: " + refused.getMessage());
            log.info("GitHub delivery {} is stored but refused (400): {}", id, refused.getMessage());
            return new Reply(400, new ApiError(refused.code().name(), refused.getMessage() + "; the delivery is stored"));
        }
        return process(parsed);
    }

    /** Acts on a stored delivery and records the outcome; a failure leaves it for the GitHub loop to retry. */
    Reply process(WebhookEvent event) {
        String outcome;
        String status;
        int http = 200;
        try {
            switch (event) {
                case PingEvent ping -> {
                    if (ping.appId() == null || ping.appId() != appId) {
                        outcome = "refused: ping from hook " + ping.hookId() + (ping.appId() == null
                                ? ", which is not a GitHub App's hook (it has no hook.app_id)"
                                : " of App " + ping.appId()) + "; Kiln serves App " + appId
                                + " and acts only on deliveries from that App's webhook";
                        store.processed(event.deliveryId(), outcome);
                        log.warn("GitHub delivery {}: {}", event.deliveryId(), outcome);
                        return new Reply(403, new ApiError(ErrorCode.PERMISSION_DENIED.name(), outcome));
                    }
                    status = "pong";
                    outcome = "ping from hook " + ping.hookId() + " of App " + ping.appId();
                }
                case OtherEvent other -> {
                    status = "ignored";
                    http = 202;
                    outcome = "Kiln acts on workflow_job; " + other.event() + (other.action() == null ? "" : "/" + other.action())
                            + " was stored and ignored";
                }
                case UnusableEvent unusable -> {
                    status = "ignored";
                    http = 202;
                    outcome = "ignored: the " + unusable.event() + " delivery was stored, but Kiln cannot act on it: "
                            + unusable.reason();
                    log.info("GitHub delivery {}: {}", event.deliveryId(), outcome);
                }
                case WorkflowJobEvent job -> {
                    outcome = store.apply(job);
                    status = outcome.startsWith("ignored") ? "ignored" : "accepted";
                }
            }
        } catch (KilnException e) {
            log.warn("GitHub delivery {} ({}) is stored but could not be processed: {}; it will be retried",
                    event.deliveryId(), event.event(), e.getMessage());
            return new Reply(202, new Answer("stored", "delivery " + event.deliveryId()
                    + " is stored; processing failed and will be retried"));
        }
        store.processed(event.deliveryId(), outcome);
        log.debug("GitHub delivery {} ({}): {}", event.deliveryId(), event.event(), outcome);
        return new Reply(http, new Answer(status, outcome));
    }
}
