package dev.kiln.github;

/**
 * Requests to GitHub of one route that got one answer, as counted for metrics.
 *
 * @param route the method and path template ({@code POST /orgs/{org}/actions/runners/generate-jitconfig}): bounded,
 *     never a repository's name
 * @param status the HTTP status answered, or {@link #NO_ANSWER}
 */
public record ApiCall(String route, String status) {
    /** The status of a request that got no answer (the connection failed or timed out). */
    public static final String NO_ANSWER = "error";
}
