package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.KilnException;
import java.time.Instant;
import java.time.InstantSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drives one provider on a thread of its own, by the server's clock (the thread only wakes every tick to look at
 * it): every tick its clean-up and the withdrawal of its stalled launches ({@link StalledLaunches}); at start and
 * every reconcile interval its reconciliation. A step that fails is logged and tried again at its next turn.
 */
final class ProviderLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ProviderLoop.class);

    private final Provider provider;
    private final StalledLaunches stalled;
    private final InstantSource clock;
    private final BackgroundLoop loop;
    /** Touched by the loop's thread only (or a test's, with the loop not started). */
    private Instant nextReconcile;

    ProviderLoop(Provider provider, StalledLaunches stalled, InstantSource clock) {
        this.provider = requireNonNull(provider, "provider is null");
        this.stalled = requireNonNull(stalled, "stalled is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.nextReconcile = clock.instant();
        this.loop = new BackgroundLoop("kiln-" + provider.kind(), this::run);
    }

    void start() {
        loop.start();
    }

    private void run() {
        while (loop.running()) {
            turn();
            try {
                Thread.sleep(provider.timing().tick());
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One turn: what is due at the clock's time now. */
    void turn() {
        step("cleaning up runners", provider::cleanUp);
        step("withdrawing launches that got no runner in time", () -> stalled.withdraw(provider));
        if (!clock.instant().isBefore(nextReconcile)) {
            nextReconcile = clock.instant().plus(provider.timing().reconcileInterval());
            step("reconciling with the provider's view", provider::reconcile);
        }
    }

    private void step(String what, Runnable work) {
        try {
            work.run();
        } catch (KilnException e) {
            log.warn("{}: {} failed: {}", provider.kind(), what, e.getMessage());
        } catch (RuntimeException e) {
            log.error("{}: {} failed unexpectedly", provider.kind(), what, e);
        }
    }

    @Override
    public void close() {
        loop.close();
        provider.close();
    }
}
