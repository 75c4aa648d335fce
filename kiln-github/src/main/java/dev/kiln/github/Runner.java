package dev.kiln.github;

import java.util.List;

/** A self-hosted runner as GitHub lists it. {@code status} is {@code online} or {@code offline}. */
public record Runner(long id, String name, String os, String status, boolean busy, boolean ephemeral,
        long runnerGroupId, List<String> labels) {
    public Runner {
        labels = List.copyOf(labels);
    }
}
