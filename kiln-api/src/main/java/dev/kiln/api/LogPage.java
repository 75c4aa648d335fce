package dev.kiln.api;

import java.util.List;

/**
 * A job's output from a cursor on.
 *
 * @param next the cursor to ask from next time
 * @param finished the job has ended and every chunk its agent sent is in
 */
public record LogPage(List<Entry> entries, long next, boolean finished) {
    public record Entry(String stream, String text) {}
}
