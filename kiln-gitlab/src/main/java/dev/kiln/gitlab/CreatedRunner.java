package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

/** A runner GitLab made for Kiln: its id (to delete it) and its {@code glrt-} token, shown once and never printed. */
public record CreatedRunner(long id, String token) {
    public CreatedRunner {
        requireNonNull(token, "token is null");
    }

    @Override
    public String toString() {
        return "CreatedRunner[id=" + id + ", token=[secret]]";
    }
}
