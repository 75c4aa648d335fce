package dev.kiln.core;

import java.time.Duration;

/** Waits. Injected so that tests move a clock instead of sleeping. */
@FunctionalInterface
public interface Sleeper {
    Sleeper SYSTEM = duration -> Thread.sleep(duration);

    void sleep(Duration duration) throws InterruptedException;
}
