package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Size;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** A validated job submission, ready to store. */
record NewJob(List<String> command, Map<String, String> env, String image, Size size, Duration timeout, String org,
        String repo, int priority) {
    NewJob {
        command = List.copyOf(command);
        env = Map.copyOf(env);
        requireNonNull(image, "image is null");
        requireNonNull(size, "size is null");
        requireNonNull(timeout, "timeout is null");
        requireNonNull(org, "org is null");
        requireNonNull(repo, "repo is null");
    }
}
