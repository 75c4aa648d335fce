package dev.kiln.github;

import static java.util.Objects.requireNonNull;

/**
 * A just-in-time runner GitHub registered, and its config for {@code run.sh --jitconfig}. The config
 * is a secret: deliver it to exactly one VM; it never prints.
 */
public record JitRunner(Runner runner, RunnerScope scope, String encodedJitConfig) {
    public JitRunner {
        requireNonNull(runner, "runner is null");
        requireNonNull(scope, "scope is null");
        requireNonNull(encodedJitConfig, "encodedJitConfig is null");
    }

    @Override
    public String toString() {
        return "JitRunner[runner=" + runner + ", scope=" + scope + ", encodedJitConfig=[secret]]";
    }
}
