package dev.kiln.server;

import java.util.List;

/**
 * A provider's use of its API as {@code /metrics} shows it: requests sent, by endpoint (a route template, never a
 * repository's name) and the status answered, and the rate limits the provider last reported, by credential.
 */
public record ApiUse(List<Calls> calls, List<Limit> limits) {
    public static final ApiUse NONE = new ApiUse(List.of(), List.of());

    public ApiUse {
        calls = List.copyOf(calls);
        limits = List.copyOf(limits);
    }

    /**
     * @param endpoint the route, e.g. {@code POST /orgs/{org}/actions/runners/generate-jitconfig}
     * @param status the HTTP status, or {@code error} for a request that got no answer
     */
    public record Calls(String endpoint, String status, long count) {}

    /**
     * @param credential whose budget it is ({@code app}, {@code installation-7}, {@code token})
     * @param limit the budget per window; -1 when the provider did not say
     */
    public record Limit(String credential, long remaining, long limit) {}
}
