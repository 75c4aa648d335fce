package dev.kiln.testkit.gitlab;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Faults injected into the fake's REST API (the routes an access token calls; the runner-facing routes
 * under {@code /api/v4/jobs} and {@code /api/v4/runners/verify} are not touched): the next requests fail
 * with a 5xx, or meet GitLab's rate limiter, which answers 429 {@code Retry later} with {@code Retry-After}
 * and the {@code RateLimit-*} headers. Also counts every REST request by route, and every answer that is not
 * throttled carries the {@code RateLimit-*} headers of the authenticated API throttle too, as GitLab sends them where
 * its throttles are on (GitLab.com; "Always return RateLimit-* headers", GitLab MR 209485): a budget of
 * {@link #LIMIT_PER_MINUTE} requests per clock minute. Thread-safe.
 */
public final class FakeGitLabFaults {
    /** A forced answer: status, plain-text body, extra headers. */
    record Forced(int status, String body, Map<String, String> headers) {}

    /** GitLab.com's authenticated API throttle: 2,000 requests a minute. */
    public static final long LIMIT_PER_MINUTE = 2000;

    private final Map<String, Long> requests = new LinkedHashMap<>();
    private long window = -1;
    private long observed;
    private int failNext;
    private int failStatus;
    private int limitedNext;
    private long retryAfterSeconds;

    FakeGitLabFaults() {}

    /** The next {@code count} REST requests fail with {@code status} (500, 502, 503...). */
    public synchronized void failNext(int count, int status) {
        if (status < 500 || status > 599) {
            throw new IllegalArgumentException("failNext takes a 5xx status, got " + status);
        }
        failNext = count;
        failStatus = status;
    }

    /** The next {@code count} REST requests are throttled: 429 with {@code Retry-After: retryAfterSeconds}. */
    public synchronized void tooManyRequestsNext(int count, long retryAfterSeconds) {
        limitedNext = count;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** REST requests received so far, faults included, by route (e.g. {@code POST /user/runners}). */
    public synchronized Map<String, Long> requests() {
        return new TreeMap<>(requests);
    }

    /** Counts one request and returns the fault that answers it instead, or null. */
    synchronized Forced account(String route) {
        requests.merge(route, 1L, Long::sum);
        if (failNext > 0) {
            failNext--;
            // GitLab's error pages for 5xx are HTML from its front end; the API itself says this much.
            return new Forced(failStatus, "{\"message\":\"" + failStatus + " " + reason(failStatus) + "\"}", Map.of("Content-Type", "application/json"));
        }
        if (limitedNext > 0) {
            limitedNext--;
            Map<String, String> headers = new LinkedHashMap<>();
            headers.put("Content-Type", "text/plain");
            headers.put("Retry-After", Long.toString(retryAfterSeconds));
            headers.put("RateLimit-Name", "throttle_authenticated_api");
            headers.put("RateLimit-Limit", "2000");
            headers.put("RateLimit-Observed", "2001");
            headers.put("RateLimit-Remaining", "0");
            return new Forced(429, "Retry later\n", headers);
        }
        return null;
    }

    /**
     * Counts a REST request that was not throttled in the current minute of {@code now} and returns the
     * {@code RateLimit-*} headers its answer carries.
     */
    synchronized Map<String, String> rateLimitHeaders(java.time.Instant now) {
        long minute = now.getEpochSecond() / 60;
        if (minute != window) {
            window = minute;
            observed = 0;
        }
        observed++;
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("RateLimit-Name", "throttle_authenticated_api");
        headers.put("RateLimit-Limit", Long.toString(LIMIT_PER_MINUTE));
        headers.put("RateLimit-Observed", Long.toString(observed));
        headers.put("RateLimit-Remaining", Long.toString(Math.max(0, LIMIT_PER_MINUTE - observed)));
        headers.put("RateLimit-Reset", Long.toString((minute + 1) * 60));
        return headers;
    }

    private static String reason(int status) {
        return switch (status) {
            case 500 -> "Internal Server Error";
            case 502 -> "Bad Gateway";
            case 503 -> "Service Unavailable";
            case 504 -> "Gateway Timeout";
            default -> "Server Error";
        };
    }
}
