package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.core.Sleeper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One GitHub REST request with GitHub's manners: the pinned API version, primary rate limits
 * ({@code x-ratelimit-remaining} 0 → wait for {@code x-ratelimit-reset}), secondary rate limits
 * ({@code retry-after}, else a minute doubling), and backoff on 5xx and broken connections. A wait longer
 * than {@code maxWait} is not slept but thrown as {@link ErrorCode#RATE_LIMITED}, so a caller's thread is
 * never parked for an hour. A call that gave up holds later calls back for a growing time ({@link Backoff}).
 * Every request sent is counted by route. Thread-safe.
 */
final class Rest {
    static final String API_VERSION = "2022-11-28";
    static final int MAX_ATTEMPTS = 5;
    static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);
    static final Duration MAX_BACKOFF = Duration.ofSeconds(60);
    static final Duration SECONDARY_WAIT = Duration.ofSeconds(60);
    private static final Pattern NEXT = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"next\"");
    static final ObjectMapper JSON = new ObjectMapper();

    record Response(int status, JsonNode body, String rawMessage, Optional<URI> next, Map<String, java.util.List<String>> headers) {
        boolean ok() {
            return status / 100 == 2;
        }
    }

    private final URI apiUrl;
    private final HttpClient http;
    private final InstantSource clock;
    private final Sleeper sleeper;
    private final Duration maxWait;
    private final Duration timeout;
    private final Map<String, LongAdder> calls = new ConcurrentHashMap<>();
    /** Requests by route and the status answered ({@code error}: none), for metrics. */
    private final Map<ApiCall, LongAdder> answered = new ConcurrentHashMap<>();
    private final Map<String, RateLimit> limits = new ConcurrentHashMap<>();
    private final Backoff backoff;

    Rest(URI apiUrl, HttpClient http, InstantSource clock, Sleeper sleeper, Duration maxWait, Duration timeout) {
        this.apiUrl = requireNonNull(apiUrl, "apiUrl is null");
        this.http = requireNonNull(http, "http is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.sleeper = requireNonNull(sleeper, "sleeper is null");
        this.maxWait = requireNonNull(maxWait, "maxWait is null");
        this.timeout = requireNonNull(timeout, "timeout is null");
        this.backoff = new Backoff(clock);
    }

    URI resolve(String pathAndQuery) {
        return URI.create(apiUrl.toString().replaceFirst("/$", "") + pathAndQuery);
    }

    /**
     * Sends until GitHub gives an answer that is not a rate limit or a 5xx, and returns it (whatever
     * its status). {@code bucket} names the credential whose rate limit applies ("app", "installation 7").
     */
    Response send(String method, URI uri, String route, String bucket, String authorization, String jsonBody) {
        backoff.check(route);
        int attempts = backoff.probing() ? 1 : MAX_ATTEMPTS;
        Duration wait = FIRST_BACKOFF;
        Duration secondary = SECONDARY_WAIT;
        Instant notBefore = Instant.MIN;
        String lastProblem = "";
        boolean rateLimited = false;
        for (int attempt = 1; attempt <= attempts; attempt++) {
            boolean last = attempt == attempts;
            waitForPrimaryReset(bucket, route);
            HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(timeout)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", API_VERSION)
                    .header("User-Agent", "kiln")
                    .header("Authorization", "Bearer " + authorization);
            if (jsonBody != null) {
                request.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(jsonBody));
            } else {
                request.method(method, HttpRequest.BodyPublishers.noBody());
            }
            calls.computeIfAbsent(route, r -> new LongAdder()).increment();
            HttpResponse<String> answer;
            try {
                answer = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                answered.computeIfAbsent(new ApiCall(route, ApiCall.NO_ANSWER), c -> new LongAdder()).increment();
                lastProblem = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
                rateLimited = false;
                if (!last) {
                    pause(wait, route, "GitHub could not be reached (" + lastProblem + ")");
                    wait = min(wait.multipliedBy(2), MAX_BACKOFF);
                }
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new KilnException(ErrorCode.CANCELLED, route + " was interrupted", e);
            }
            answered.computeIfAbsent(new ApiCall(route, Integer.toString(answer.statusCode())), c -> new LongAdder())
                    .increment();
            Response response = parse(answer);
            RateLimit limit = recordLimit(bucket, answer);
            int status = answer.statusCode();
            if (status == 403 || status == 429) {
                Optional<String> retryAfter = answer.headers().firstValue("retry-after");
                rateLimited = true;
                lastProblem = "HTTP " + status + " " + response.rawMessage();
                if (retryAfter.isPresent()) {
                    Duration asked = seconds(retryAfter.get(), secondary);
                    notBefore = clock.instant().plus(asked);
                    if (!last) {
                        pause(asked, route, "GitHub's secondary rate limit (retry-after " + retryAfter.get() + ")");
                    }
                    continue;
                }
                if (limit != null && limit.remaining() == 0) {
                    notBefore = limit.reset();
                    continue; // waitForPrimaryReset at the top of the loop waits for the reset
                }
                if (response.rawMessage().toLowerCase(Locale.ROOT).contains("secondary rate limit")) {
                    notBefore = clock.instant().plus(secondary);
                    if (!last) {
                        pause(secondary, route, "GitHub's secondary rate limit");
                        secondary = secondary.multipliedBy(2);
                    }
                    continue;
                }
            } else if (status >= 500) {
                lastProblem = "HTTP " + status + " " + response.rawMessage();
                rateLimited = false;
                if (!last) {
                    pause(wait, route, "GitHub failed with HTTP " + status);
                    wait = min(wait.multipliedBy(2), MAX_BACKOFF);
                }
                continue;
            }
            backoff.answered();
            return response;
        }
        backoff.gaveUp(lastProblem, notBefore);
        throw new GitHubApiException(rateLimited ? ErrorCode.RATE_LIMITED : ErrorCode.UPSTREAM_FAILED, 0, lastProblem,
                route + " failed " + attempts + (attempts == 1 ? " time (GitHub failed the calls before it too)" : " times")
                        + "; the last answer: " + lastProblem);
    }

    /** GitHub failing, if it is: Kiln sends nothing until the state's {@code until}. */
    Optional<GitHubApp.Unavailable> backoff() {
        return backoff.state();
    }

    /** Counts of requests sent, by route (e.g. {@code POST /orgs/{org}/actions/runners/generate-jitconfig}). */
    Map<String, Long> calls() {
        Map<String, Long> snapshot = new java.util.TreeMap<>();
        calls.forEach((route, count) -> snapshot.put(route, count.sum()));
        return snapshot;
    }

    /** Counts of requests sent, by route and the status answered. */
    Map<ApiCall, Long> answered() {
        Map<ApiCall, Long> snapshot = new java.util.TreeMap<>(java.util.Comparator.comparing(ApiCall::route)
                .thenComparing(ApiCall::status));
        answered.forEach((call, count) -> snapshot.put(call, count.sum()));
        return snapshot;
    }

    /** The rate limit each credential's last answer told, by bucket ({@code app}, {@code installation 7}). */
    Map<String, RateLimit> limits() {
        return new java.util.TreeMap<>(limits);
    }

    Optional<RateLimit> limit(String bucket) {
        return Optional.ofNullable(limits.get(bucket));
    }

    private void waitForPrimaryReset(String bucket, String route) {
        RateLimit limit = limits.get(bucket);
        if (limit == null || limit.remaining() > 0) {
            return;
        }
        Instant now = clock.instant();
        if (!now.isBefore(limit.reset())) {
            limits.remove(bucket, limit);
            return;
        }
        // One second past the reset, as GitHub's reset is rounded down to the second.
        Duration wait = Duration.between(now, limit.reset()).plusSeconds(1);
        if (wait.compareTo(maxWait) > 0) {
            throw new GitHubApiException(ErrorCode.RATE_LIMITED, 403, "rate limit exceeded", "GitHub's rate limit for "
                    + bucket + " is used up (" + limit.limit() + " requests) and resets at " + limit.reset() + ", in "
                    + wait.toSeconds() + " s, more than the " + maxWait.toSeconds() + " s Kiln may wait; " + route + " was not sent", true);
        }
        pause(wait, route, "GitHub's rate limit for " + bucket);
        limits.remove(bucket, limit);
    }

    private void pause(Duration wait, String route, String why) {
        if (wait.compareTo(maxWait) > 0) {
            backoff.gaveUp(why, clock.instant().plus(wait));
            throw new GitHubApiException(ErrorCode.RATE_LIMITED, 0, why, route + " must wait " + wait.toSeconds()
                    + " s for " + why + ", more than the " + maxWait.toSeconds() + " s Kiln may wait");
        }
        try {
            sleeper.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, route + " was interrupted while waiting for " + why, e);
        }
    }

    private RateLimit recordLimit(String bucket, HttpResponse<String> answer) {
        Optional<String> remaining = answer.headers().firstValue("x-ratelimit-remaining");
        Optional<String> reset = answer.headers().firstValue("x-ratelimit-reset");
        if (remaining.isEmpty() || reset.isEmpty()) {
            return null;
        }
        try {
            long limit = answer.headers().firstValue("x-ratelimit-limit").map(Long::parseLong).orElse(-1L);
            RateLimit value = new RateLimit(limit, Long.parseLong(remaining.get()), Instant.ofEpochSecond(Long.parseLong(reset.get())));
            limits.put(bucket, value);
            return value;
        } catch (NumberFormatException e) {
            throw new GitHubApiException(ErrorCode.UPSTREAM_FAILED, answer.statusCode(), "",
                    "GitHub sent malformed rate-limit headers: remaining '" + remaining.get() + "', reset '" + reset.get() + "'");
        }
    }

    private static Response parse(HttpResponse<String> answer) {
        JsonNode body = null;
        String message = "";
        String text = answer.body();
        if (text != null && !text.isBlank()) {
            try {
                body = JSON.readTree(text);
                if (body.isObject() && body.path("message").isTextual()) {
                    message = body.get("message").asText();
                }
            } catch (IOException e) {
                message = text.length() > 200 ? text.substring(0, 200) + "…" : text;
            }
        }
        Optional<URI> next = answer.headers().allValues("link").stream()
                .map(NEXT::matcher).filter(Matcher::find).map(m -> URI.create(m.group(1))).findFirst();
        return new Response(answer.statusCode(), body, message, next, answer.headers().map());
    }

    /** The server's clock from a {@code Date} header, for correcting JWT claims. */
    static Optional<Instant> date(Response response) {
        return response.headers().entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase("date"))
                .flatMap(e -> e.getValue().stream()).findFirst().flatMap(text -> {
                    try {
                        return Optional.of(ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant());
                    } catch (DateTimeParseException e) {
                        return Optional.empty();
                    }
                });
    }

    private static Duration seconds(String text, Duration fallback) {
        try {
            return Duration.ofSeconds(Math.max(0, Long.parseLong(text.strip())));
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
