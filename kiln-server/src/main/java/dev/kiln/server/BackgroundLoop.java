package dev.kiln.server;

/**
 * The thread one of the server's loops runs on: named, a daemon, and stopped on close by an
 * interrupt and a bounded wait. The loop's body asks {@link #running()} between passes.
 */
final class BackgroundLoop implements AutoCloseable {
    private static final long STOP_WAIT_MILLIS = 5000;

    private final Thread thread;
    private volatile boolean stopped;

    BackgroundLoop(String name, Runnable body) {
        this.thread = Thread.ofPlatform().name(name).daemon().unstarted(body);
    }

    void start() {
        thread.start();
    }

    boolean running() {
        return !stopped;
    }

    /** Whether the caller runs on this loop's thread. */
    boolean isCurrentThread() {
        return Thread.currentThread() == thread;
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
        try {
            thread.join(STOP_WAIT_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
