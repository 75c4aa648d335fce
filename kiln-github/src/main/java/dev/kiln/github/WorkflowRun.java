package dev.kiln.github;

import java.time.Instant;

/** A workflow run, as the reconciler lists it. {@code conclusion} is null until it completes. */
public record WorkflowRun(long id, String owner, String repo, String status, String conclusion, int runAttempt, Instant createdAt) {}
