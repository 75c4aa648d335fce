package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.KilnException;
import dev.kiln.core.Scheduler;
import dev.kiln.core.WaitReason;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs scheduling passes on one thread: as soon as the queue or the room changes ({@link Signals#SCHEDULE}),
 * and at least every {@code interval} (another replica's jobs, a missed signal). Passes that overlap
 * in time coalesce: signals during a pass cause exactly one more.
 */
final class SchedulingLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SchedulingLoop.class);

    private final SchedulingStore store;
    private final Scheduler scheduler;
    private final Signals signals;
    private final Duration interval;
    private final BackgroundLoop loop;
    private final AtomicLong passes = new AtomicLong();
    private final AtomicLong placements = new AtomicLong();
    private final AtomicLong decisions = new AtomicLong();
    private final AtomicLong busyNanos = new AtomicLong();
    private final Observer observer;

    /**
     * Told of each pass: how long it took and how long each job it placed had waited (passes that had a queue), and
     * why each job it left queued waits (every pass: an empty queue leaves none waiting).
     */
    interface Observer {
        void passed(Duration took, List<Duration> waited);

        default void waiting(Map<String, WaitReason> reasons) {}
    }

    SchedulingLoop(SchedulingStore store, Scheduler scheduler, Signals signals, Duration interval, Observer metrics,
            WaitReasons reasons) {
        requireNonNull(metrics, "metrics is null");
        requireNonNull(reasons, "reasons is null");
        this.observer = new Observer() {
            @Override
            public void passed(Duration took, List<Duration> waited) {
                metrics.passed(took, waited);
            }

            @Override
            public void waiting(Map<String, WaitReason> waiting) {
                reasons.update(waiting);
            }
        };
        this.store = requireNonNull(store, "store is null");
        this.scheduler = requireNonNull(scheduler, "scheduler is null");
        this.signals = requireNonNull(signals, "signals is null");
        this.interval = requireNonNull(interval, "interval is null");
        this.loop = new BackgroundLoop("kiln-scheduler", this::run);
    }

    void start() {
        loop.start();
    }

    /** Passes run, jobs placed, jobs placed or rejected, and time spent in passes. */
    record Stats(long passes, long placements, long decisions, Duration busy) {}

    Stats stats() {
        return new Stats(passes.get(), placements.get(), decisions.get(), Duration.ofNanos(busyNanos.get()));
    }

    private void run() {
        boolean failing = false;
        while (loop.running()) {
            long seen = signals.version(Signals.SCHEDULE);
            try {
                long start = System.nanoTime();
                SchedulingStore.Pass pass = store.pass(scheduler);
                observer.waiting(pass.waiting());
                if (pass.queued() > 0) {
                    long took = System.nanoTime() - start;
                    observer.passed(Duration.ofNanos(took), pass.waited());
                    busyNanos.addAndGet(took);
                    passes.incrementAndGet();
                    placements.addAndGet(pass.placed());
                    decisions.addAndGet(pass.placed() + pass.rejected());
                    if (pass.placed() + pass.rejected() > 0) {
                        log.debug("pass: {} queued, {} placed, {} rejected", pass.queued(), pass.placed(), pass.rejected());
                    }
                }
                if (failing) {
                    log.info("scheduling works again");
                    failing = false;
                }
                signals.await(Signals.SCHEDULE, seen, interval);
            } catch (KilnException e) {
                if (!failing) {
                    log.warn("a scheduling pass failed: {}; retrying every {} ms", e.getMessage(), interval.toMillis());
                    failing = true;
                }
                sleep();
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                log.error("a scheduling pass failed unexpectedly", e);
                sleep();
            }
        }
    }

    private void sleep() {
        try {
            Thread.sleep(interval);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        loop.close();
    }
}
