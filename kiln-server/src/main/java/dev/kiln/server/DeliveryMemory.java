package dev.kiln.server;

import dev.kiln.github.BodyMemory;
import dev.kiln.github.WebhookException;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The memory all webhook bodies whose signature is not checked yet may hold together, beyond each one's
 * free allowance ({@link dev.kiln.github.WebhookVerifier#FREE_BYTES}). Anyone can send such bodies: 100 slow
 * 5 MB bodies, each buffered whole, once grew the server by 425 MB. A body that finds the budget taken
 * stops being read (TCP holds its sender back) until another releases, or is answered 503 after
 * {@code wait}; the server's request time limit (see {@link HttpServers}) ends the slow ones.
 */
public final class DeliveryMemory implements BodyMemory {
    public static final long DEFAULT_BYTES = 16L << 20;
    public static final Duration DEFAULT_WAIT = Duration.ofSeconds(10);

    private final long bytes;
    private final Semaphore free;
    private final Duration wait;

    public DeliveryMemory(long bytes, Duration wait) {
        if (bytes < 1 || bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the webhook body budget must be from 1 byte to 2 GiB, got " + bytes);
        }
        this.bytes = bytes;
        this.free = new Semaphore((int) bytes);
        this.wait = java.util.Objects.requireNonNull(wait, "wait is null");
    }

    @Override
    public void reserve(int n) {
        try {
            if (!free.tryAcquire(n, wait.toNanos(), TimeUnit.NANOSECONDS)) {
                throw WebhookException.busy("the server holds " + (bytes >> 10) + " KiB of unverified webhook bodies"
                        + " and none came free within " + wait.toSeconds() + " s; redeliver later");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw WebhookException.busy("the server is stopping");
        }
    }

    @Override
    public void release(long n) {
        free.release((int) n);
    }

    /** Bytes held now (for tests and the campaign). */
    long held() {
        return bytes - free.availablePermits();
    }
}
