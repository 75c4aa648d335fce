package dev.kiln.testkit.github;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * The fake's REST rate limits and injected faults (ci-protocols.md §3.7, §7.9). Each credential (the App's
 * JWT, each installation) has 5,000 requests an hour, reported in {@code x-ratelimit-*} on every answer.
 * Faults: the next requests fail with a 5xx; the primary limit is used up until a reset (403 or 429 with
 * {@code x-ratelimit-remaining: 0}); the next requests hit a secondary limit (403 or 429, with or without
 * {@code retry-after}). Thread-safe.
 */
public final class FakeFaults {
    static final long LIMIT = 5000;
    static final String PRIMARY_MESSAGE = "API rate limit exceeded for %s. If you reach out to GitHub Support for help, please include the request ID %s.";
    static final String SECONDARY_MESSAGE = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID %s.";
    static final String RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api";

    /** An answer the fault forces instead of the real one. */
    record Forced(int status, String message, String documentationUrl, Map<String, String> headers) {}

    private record Window(Instant reset, long used) {}

    private final InstantSource clock;
    private final Map<String, Window> windows = new HashMap<>();
    private final Map<String, Long> requests = new LinkedHashMap<>();
    private int failNext;
    private int failStatus;
    private Instant exhaustedUntil = Instant.MIN;
    private int exhaustedStatus = 403;
    private int secondaryNext;
    private int secondaryStatus;
    private OptionalLong retryAfter = OptionalLong.empty();

    FakeFaults(InstantSource clock) {
        this.clock = clock;
    }

    /**
     * The requests left in a credential's window now, as its next answer's {@code x-ratelimit-remaining} would say
     * before counting itself: {@code bucket} is {@code app} or {@code installation ID}.
     */
    public synchronized long remaining(String bucket) {
        Window window = windows.get(bucket);
        if (clock.instant().isBefore(exhaustedUntil)) {
            return 0;
        }
        return window == null || !clock.instant().isBefore(window.reset()) ? LIMIT : Math.max(0, LIMIT - window.used());
    }

    /** The next {@code count} REST requests fail with {@code status} (500, 502, 503...). */
    public synchronized void failNext(int count, int status) {
        failNext = count;
        failStatus = status;
    }

    /** Every credential's primary limit is used up until {@code resetIn} from now; answers are {@code status} (403 or 429). */
    public synchronized void exhaustPrimaryRateLimit(Duration resetIn, int status) {
        exhaustedUntil = Instant.ofEpochSecond(clock.instant().plus(resetIn).getEpochSecond());
        exhaustedStatus = status;
    }

    /** The next {@code count} REST requests hit a secondary limit, with {@code retry-after} when given. */
    public synchronized void secondaryRateLimitNext(int count, int status, OptionalLong retryAfterSeconds) {
        secondaryNext = count;
        secondaryStatus = status;
        retryAfter = retryAfterSeconds;
    }

    /** REST requests answered so far, by route; faults included. */
    public synchronized Map<String, Long> requests() {
        return new TreeMap<>(requests);
    }

    synchronized void count(String route) {
        requests.merge(route, 1L, Long::sum);
    }

    /**
     * Accounts one request of {@code bucket} and returns the rate-limit headers to send, plus a forced
     * answer when a fault or an exhausted limit applies (null otherwise).
     */
    synchronized Forced account(String bucket, String who, Map<String, String> headers, boolean countsAgainstLimit) {
        Instant now = clock.instant();
        Window window = windows.get(bucket);
        if (window == null || !now.isBefore(window.reset())) {
            window = new Window(Instant.ofEpochSecond(now.plus(Duration.ofHours(1)).getEpochSecond()), 0);
        }
        String requestId = Long.toHexString(now.toEpochMilli()) + ":" + Integer.toHexString(requests.size());
        boolean exhausted = now.isBefore(exhaustedUntil) || window.used() >= LIMIT;
        Instant reset = now.isBefore(exhaustedUntil) ? exhaustedUntil : window.reset();
        if (!exhausted && countsAgainstLimit) {
            window = new Window(window.reset(), window.used() + 1);
        }
        windows.put(bucket, window);
        long remaining = exhausted ? 0 : LIMIT - window.used();
        headers.put("x-ratelimit-limit", Long.toString(LIMIT));
        headers.put("x-ratelimit-remaining", Long.toString(remaining));
        headers.put("x-ratelimit-used", Long.toString(LIMIT - remaining));
        headers.put("x-ratelimit-reset", Long.toString(reset.getEpochSecond()));
        headers.put("x-ratelimit-resource", "core");
        headers.put("x-github-request-id", requestId);
        if (failNext > 0) {
            failNext--;
            return new Forced(failStatus, failStatus == 502 ? "Server Error" : "Service Unavailable", DOCS_5XX, Map.of());
        }
        if (secondaryNext > 0) {
            secondaryNext--;
            Map<String, String> extra = new HashMap<>();
            retryAfter.ifPresent(s -> extra.put("retry-after", Long.toString(s)));
            return new Forced(secondaryStatus, SECONDARY_MESSAGE.formatted(requestId), RATE_DOCS + "#about-secondary-rate-limits", extra);
        }
        if (exhausted && countsAgainstLimit) {
            return new Forced(exhaustedStatus, PRIMARY_MESSAGE.formatted(who, requestId), RATE_DOCS, Map.of());
        }
        return null;
    }

    private static final String DOCS_5XX = "https://docs.github.com/rest";
}
