package dev.kiln.server.gitlab;

import static java.util.Objects.requireNonNull;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.kiln.api.ApiError;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.gitlab.HookVerifier;
import dev.kiln.server.Exchange;
import dev.kiln.server.WebhookOutcomes.Outcome;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code POST /webhooks/gitlab}: the hook's {@code X-Gitlab-Token} is checked in constant time before a byte of its
 * body is read (401, nothing kept), the body is read up to a bound (413), then every verified hook is kept before the
 * answer, keyed by its {@code Idempotency-Key} (else {@code X-Gitlab-Event-UUID}, else the body's SHA-256): one seen
 * before is answered 200 and ignored. The answer is 202 at once: acting on a Job Hook may ask GitLab for the job's
 * tags, which the hook lacks, and GitLab disables a hook that is slow or fails, so that work happens after the answer
 * on {@code work} (a hook whose processing failed stays stored and is processed again by the GitLab loop).
 */
final class GitLabHooks implements HttpHandler {
    static final String PATH = "/webhooks/gitlab";
    private static final Logger log = LoggerFactory.getLogger(GitLabHooks.class);
    private static final Pattern KEY = Pattern.compile("[A-Za-z0-9._:-]{1,100}");

    /** What Kiln answers a hook it took. */
    record Answer(String status, String message) {}

    /** Acts on a stored hook (its key, event and body) and records the outcome. */
    @FunctionalInterface
    interface Processor {
        void process(String id, String event, byte[] body);
    }

    private final HookVerifier verifier;
    private final GitLabStore store;
    private final Processor processor;
    private final Executor work;

    private final java.util.function.Consumer<Outcome> outcomes;

    /** @param outcomes counts what became of each hook refused or seen before (a stored one counts once processed) */
    GitLabHooks(HookVerifier verifier, GitLabStore store, Processor processor, Executor work,
            java.util.function.Consumer<Outcome> outcomes) {
        this.outcomes = requireNonNull(outcomes, "outcomes is null");
        this.verifier = requireNonNull(verifier, "verifier is null");
        this.store = requireNonNull(store, "store is null");
        this.processor = requireNonNull(processor, "processor is null");
        this.work = requireNonNull(work, "work is null");
    }

    @Override
    public void handle(HttpExchange http) throws IOException {
        Exchange exchange = new Exchange(http);
        Outcome outcome = Outcome.FAILED;
        try {
            if (!http.getRequestURI().getPath().equals(PATH)) {
                outcome = Outcome.REFUSED;
                exchange.send(404, new ApiError(ErrorCode.NOT_FOUND.name(), "GitLab's hooks go to POST " + PATH));
                return;
            }
            if (!http.getRequestMethod().equals("POST")) {
                outcome = Outcome.REFUSED;
                exchange.sendWrongMethod(new Exchange.WrongMethod(http.getRequestMethod(), PATH, List.of("POST")));
                return;
            }
            Headers headers = http.getRequestHeaders();
            verifier.check(headers.getFirst("X-Gitlab-Token"));
            byte[] body = verifier.readBody(http.getRequestBody(), exchange.contentLength());
            String event = headers.getFirst("X-Gitlab-Event") == null ? "-" : headers.getFirst("X-Gitlab-Event");
            String id = key(headers.getFirst("Idempotency-Key"), headers.getFirst("X-Gitlab-Event-UUID"), body);
            if (!store.store(id, event, body)) {
                outcome = Outcome.DUPLICATE;
                exchange.send(200, new Answer("duplicate", "hook " + id + " was received before; ignored"));
                return;
            }
            outcome = null; // counted once processed: accepted, ignored or invalid
            work.execute(() -> processor.process(id, event, body));
            exchange.send(202, new Answer("stored", "hook " + id + " is stored"));
        } catch (KilnException e) {
            outcome = switch (e.code()) {
                case UNAUTHENTICATED -> Outcome.BAD_SIGNATURE;
                case PAYLOAD_TOO_LARGE -> Outcome.TOO_LARGE;
                case INVALID_ARGUMENT -> Outcome.INVALID;
                default -> Outcome.FAILED;
            };
            log.info("refused a GitLab hook: {}", e.getMessage());
            exchange.send(Exchange.status(e.code()), new ApiError(e.code().name(), e.getMessage()));
        } catch (RuntimeException e) {
            exchange.sendUnexpected(log, e);
        } finally {
            if (outcome != null) {
                outcomes.accept(outcome);
            }
            exchange.close();
        }
    }

    /** The hook's key: a well-formed Idempotency-Key, else the event's UUID, else the body's SHA-256. */
    static String key(String idempotencyKey, String eventUuid, byte[] body) {
        if (idempotencyKey != null && KEY.matcher(idempotencyKey).matches()) {
            return idempotencyKey;
        }
        if (eventUuid != null && KEY.matcher(eventUuid).matches()) {
            return "event-" + eventUuid;
        }
        try {
            return "sha256-" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(body));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is not available", e);
        }
    }
}
