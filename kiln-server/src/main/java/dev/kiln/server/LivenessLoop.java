package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.KilnException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Looks for silent hosts every {@code interval}, by the injected clock. For the first
 * {@code offlineAfter} after start it declares none offline: a restarted server has not heard
 * from anyone yet, and silence while it was down is not the hosts' fault.
 */
final class LivenessLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LivenessLoop.class);

    private final LivenessStore store;
    private final InstantSource clock;
    private final Duration offlineAfter;
    private final Duration interval;
    private final Instant startedAt;
    private final BackgroundLoop loop;

    LivenessLoop(LivenessStore store, InstantSource clock, Duration offlineAfter, Duration interval) {
        this.store = requireNonNull(store, "store is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.offlineAfter = requireNonNull(offlineAfter, "offlineAfter is null");
        this.interval = requireNonNull(interval, "interval is null");
        this.startedAt = clock.instant();
        this.loop = new BackgroundLoop("kiln-liveness", this::run);
    }

    void start() {
        loop.start();
    }

    private void run() {
        while (loop.running()) {
            try {
                Thread.sleep(interval);
                if (clock.instant().isBefore(startedAt.plus(offlineAfter))) {
                    continue;
                }
                store.markSilentHostsOffline(offlineAfter);
            } catch (InterruptedException e) {
                return;
            } catch (KilnException e) {
                log.warn("looking for silent hosts failed: {}", e.getMessage());
            } catch (RuntimeException e) {
                log.error("looking for silent hosts failed unexpectedly", e);
            }
        }
    }

    @Override
    public void close() {
        loop.close();
    }
}
