package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Size;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A validated job, ready to store: a local command, or a provider's runner demand (its {@code kind} the
 * provider's, no command: the VM starts the runner).
 *
 * @param size what the job asks for; null only for a provider's demand whose labels name no size Kiln can run,
 *     which holds no room (its listing says 0) and is rejected as it is made
 * @param labels the labels the job was asked with (a provider's labels or tags, or those of an API request), which
 *     the dashboard filters on
 */
public record NewJob(String kind, List<String> command, Map<String, String> env, String image, Size size,
        Duration timeout, String org, String repo, int priority, List<String> labels) {
    /** The kind of a job submitted through the API or {@code kiln run}: a command, whose exit code is its result. */
    public static final String LOCAL = "local";

    public NewJob {
        requireNonNull(kind, "kind is null");
        command = List.copyOf(command);
        env = Map.copyOf(env);
        requireNonNull(image, "image is null");
        if (size == null && kind.equals(LOCAL)) {
            throw new IllegalArgumentException("a local job needs a size");
        }
        requireNonNull(timeout, "timeout is null");
        requireNonNull(org, "org is null");
        requireNonNull(repo, "repo is null");
        labels = List.copyOf(labels);
    }

    /** A command submitted through the API. */
    public static NewJob local(List<String> command, Map<String, String> env, String image, Size size, Duration timeout,
            String org, String repo, int priority, List<String> labels) {
        return new NewJob(LOCAL, command, env, image, size, timeout, org, repo, priority, labels);
    }

    /** A provider's runner demand: no command, no environment (the runner's credential reaches the VM instead). */
    public static NewJob demand(String kind, String image, Size size, Duration timeout, String org, String repo,
            List<String> labels) {
        return new NewJob(kind, List.of(), Map.of(), image, size, timeout, org, repo, 0, labels);
    }
}
