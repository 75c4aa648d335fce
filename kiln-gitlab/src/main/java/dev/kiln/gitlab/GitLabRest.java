package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.core.Sleeper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * One GitLab REST request with GitLab's manners: {@code PRIVATE-TOKEN}, retries on 5xx and broken connections
 * (1 s doubling to 30 s), and on 429 after GitLab's {@code Retry-After} (60 s when it gives none). A wait
 * longer than {@code maxWait} is not slept but thrown as {@link ErrorCode#RATE_LIMITED}, so no caller's thread
 * is parked for long. Every request sent is counted by route. Thread-safe.
 */
final class GitLabRest {
    static final int MAX_ATTEMPTS = 5;
    static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(30);
    static final Duration DEFAULT_RETRY_AFTER = Duration.ofSeconds(60);
    static final ObjectMapper JSON = new ObjectMapper();

    record Response(int status, JsonNode body, String message, HttpHeaders headers) {
        boolean ok() {
            return status / 100 == 2;
        }
    }

    private final URI apiUrl;
    private final String token;
    private final HttpClient http;
    private final Sleeper sleeper;
    private final Duration maxWait;
    private final Duration timeout;
    private final Map<String, LongAdder> calls = new ConcurrentHashMap<>();
    /** Requests by route and the status answered ({@code error}: none), for metrics. */
    private final Map<ApiCall, LongAdder> answered = new ConcurrentHashMap<>();
    /** The last {@code RateLimit-Remaining}/{@code RateLimit-Limit} GitLab sent, or null before any. */
    private volatile RateLimit rateLimit;

    GitLabRest(URI apiUrl, String token, HttpClient http, Sleeper sleeper, Duration maxWait, Duration timeout) {
        this.apiUrl = requireNonNull(apiUrl, "apiUrl is null");
        this.token = requireNonNull(token, "token is null");
        this.http = requireNonNull(http, "http is null");
        this.sleeper = requireNonNull(sleeper, "sleeper is null");
        this.maxWait = requireNonNull(maxWait, "maxWait is null");
        this.timeout = requireNonNull(timeout, "timeout is null");
    }

    /**
     * Sends until GitLab gives an answer that is not a 429 or a 5xx and returns it, whatever its status.
     * {@code route} names the call for counting and messages ({@code POST /user/runners}).
     */
    Response send(String method, String pathAndQuery, String route, JsonNode jsonBody) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(apiUrl + pathAndQuery)).timeout(timeout)
                .header("PRIVATE-TOKEN", token).header("User-Agent", "kiln").header("Accept", "application/json");
        if (jsonBody != null) {
            request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(jsonBody.toString()));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        Duration backoff = FIRST_BACKOFF;
        Retry retry = null;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            if (retry != null) {
                pause(retry.delay(), route, retry.problem());
            }
            Object outcome = attempt(request.build(), route, backoff);
            if (outcome instanceof Response response) {
                return response;
            }
            retry = (Retry) outcome;
            if (!retry.limited()) {
                backoff = min(backoff.multipliedBy(2), MAX_BACKOFF);
            }
        }
        throw new GitLabApiException(retry.limited() ? ErrorCode.RATE_LIMITED : ErrorCode.UPSTREAM_FAILED, 0,
                route + " failed " + MAX_ATTEMPTS + " times; the last answer: " + retry.problem());
    }

    /** Why an attempt is tried again, and after how long. */
    private record Retry(String problem, Duration delay, boolean limited) {}

    /** One attempt: GitLab's answer, or a {@link Retry} for no answer, a 5xx (after {@code backoff}) or a 429. */
    private Object attempt(HttpRequest request, String route, Duration backoff) {
        calls.computeIfAbsent(route, r -> new LongAdder()).increment();
        HttpResponse<String> answer;
        try {
            answer = http.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            answered.computeIfAbsent(new ApiCall(route, ApiCall.NO_ANSWER), c -> new LongAdder()).increment();
            return new Retry("GitLab could not be reached (" + e.getClass().getSimpleName()
                    + (e.getMessage() == null ? "" : ": " + e.getMessage()) + ")", backoff, false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, route + " was interrupted", e);
        }
        answered.computeIfAbsent(new ApiCall(route, Integer.toString(answer.statusCode())), c -> new LongAdder()).increment();
        recordLimit(answer.headers());
        Response response = parse(answer);
        if (answer.statusCode() == 429) {
            String retryAfter = answer.headers().firstValue("Retry-After").orElse(null);
            return new Retry("HTTP 429 " + response.message() + " (Retry-After " + (retryAfter == null ? "absent" : retryAfter) + ")",
                    seconds(retryAfter), true);
        }
        if (answer.statusCode() >= 500) {
            return new Retry("HTTP " + answer.statusCode() + " " + response.message(), backoff, false);
        }
        return response;
    }

    /** Requests sent, by route. */
    Map<String, Long> calls() {
        Map<String, Long> snapshot = new TreeMap<>();
        calls.forEach((route, count) -> snapshot.put(route, count.sum()));
        return snapshot;
    }

    /** Requests sent, by route and the status answered. */
    Map<ApiCall, Long> answered() {
        Map<ApiCall, Long> snapshot = new TreeMap<>(java.util.Comparator.comparing(ApiCall::route).thenComparing(ApiCall::status));
        answered.forEach((call, count) -> snapshot.put(call, count.sum()));
        return snapshot;
    }

    java.util.Optional<RateLimit> rateLimit() {
        return java.util.Optional.ofNullable(rateLimit);
    }

    /**
     * GitLab sends {@code RateLimit-*} where its throttles are on: on throttled answers, and (GitLab 18.6 and later, or
     * GitLab.com) on every answer. An answer without them leaves the last one known; malformed ones are not kept.
     */
    private void recordLimit(HttpHeaders headers) {
        java.util.Optional<String> remaining = headers.firstValue("RateLimit-Remaining");
        if (remaining.isEmpty()) {
            return;
        }
        try {
            long limit = headers.firstValue("RateLimit-Limit").map(v -> Long.parseLong(v.strip())).orElse(-1L);
            rateLimit = new RateLimit(limit, Long.parseLong(remaining.get().strip()));
        } catch (NumberFormatException e) {
            // A proxy's mangled header: the limit stays as last told; the answer itself is still used.
        }
    }

    private void pause(Duration wait, String route, String why) {
        if (wait.compareTo(maxWait) > 0) {
            throw new GitLabApiException(ErrorCode.RATE_LIMITED, 429, route + " must wait " + wait.toSeconds() + " s after " + why
                    + ", more than the " + maxWait.toSeconds() + " s Kiln may wait; it is tried again later");
        }
        try {
            sleeper.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, route + " was interrupted while waiting for " + why, e);
        }
    }

    /**
     * GitLab's messages: {@code {"message": "404 Project Not Found"}}, {@code {"message": {"field": ["…"]}}},
     * {@code {"error": "…"}} (parameters, scopes), or plain text ({@code Retry later}).
     */
    private static Response parse(HttpResponse<String> answer) {
        JsonNode body = null;
        String message = "";
        String text = answer.body();
        if (text != null && !text.isBlank()) {
            try {
                body = JSON.readTree(text);
                if (body.isObject()) {
                    JsonNode m = body.has("message") ? body.get("message") : body.get("error");
                    message = m == null ? "" : m.isTextual() ? m.asText() : m.toString();
                    if (body.path("error_description").isTextual()) {
                        message += ": " + body.get("error_description").asText() + " (needs scope " + body.path("scope").asText("?") + ")";
                    }
                }
            } catch (IOException e) {
                message = text.length() > 200 ? text.substring(0, 200).strip() + "…" : text.strip();
            }
        }
        return new Response(answer.statusCode(), body, message, answer.headers());
    }

    private static Duration seconds(String text) {
        if (text == null) {
            return DEFAULT_RETRY_AFTER;
        }
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(text.strip())));
        } catch (NumberFormatException e) {
            return DEFAULT_RETRY_AFTER; // an HTTP date: GitLab sends seconds, so wait the usual minute
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
