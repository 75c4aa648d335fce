package dev.kiln.testkit;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.concurrent.atomic.AtomicReference;

/** A clock that tests move by hand, so timeouts are tested without sleeping. Thread-safe. */
public final class TestingClock implements InstantSource {
    private final AtomicReference<Instant> now;

    public TestingClock() {
        this(Instant.parse("2026-01-01T00:00:00Z"));
    }

    public TestingClock(Instant start) {
        this.now = new AtomicReference<>(start);
    }

    @Override
    public Instant instant() {
        return now.get();
    }

    public void advance(Duration duration) {
        now.updateAndGet(instant -> instant.plus(duration));
    }
}
