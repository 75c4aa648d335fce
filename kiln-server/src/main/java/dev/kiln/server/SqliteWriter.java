package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingDeque;
import javax.sql.DataSource;

/**
 * Runs every write transaction of an SQLite store on one platform thread, and commits the writes
 * that queued up meanwhile together (group commit), each inside a savepoint of its own.
 *
 * <p>Why a thread and not a pool of one connection: SQLite takes one writer at a time anyway, and a
 * pool hands its connection to the next waiting request thread, which may wait long for a core on a
 * busy machine while the connection sits idle; every other write then queues behind it. Here the
 * connection never waits for its user, and one commit serves every write that arrived during the
 * last one. A write that fails is rolled back to its savepoint alone; the others still commit.
 *
 * <p>Shared state: {@link #queue} (thread-safe) and the loop's running flag; each {@link Pending} is
 * handed from its caller to the writer thread and back through its latch.
 */
final class SqliteWriter implements AutoCloseable {
    /** The most writes one commit carries, so a caller never waits behind an unbounded batch. */
    static final int MAX_BATCH = 64;

    /** Runs a write; the pieces of {@link Database} a commit needs. */
    interface Committer {
        /** Runs the work in the open transaction: its Tx, its generations moved on. */
        <T> T run(Connection connection, Database.Work<T> work, Set<String> topics) throws SQLException;

        /** Wakes the waiters on the topics of committed writes. */
        void committed(Set<String> topics);
    }

    private final DataSource connections;
    private final Committer committer;
    private final LinkedBlockingDeque<Pending<?>> queue = new LinkedBlockingDeque<>();
    private final BackgroundLoop loop;

    SqliteWriter(DataSource connections, Committer committer) {
        this.connections = requireNonNull(connections, "connections is null");
        this.committer = requireNonNull(committer, "committer is null");
        this.loop = new BackgroundLoop("kiln-db-writer", this::run);
    }

    void start() {
        loop.start();
    }

    /**
     * Runs the work in a committed transaction and returns its result, or throws what it threw.
     *
     * @param ahead whether the work goes before the writes that queue already (the scheduling pass,
     *     which every queued job waits for), instead of after them
     */
    <T> T write(Database.Work<T> work, boolean ahead) throws SQLException {
        if (loop.isCurrentThread()) {
            throw new IllegalStateException("a write transaction cannot start another: it would wait for itself");
        }
        Pending<T> pending = new Pending<>(work);
        if (ahead) {
            queue.addFirst(pending);
        } else {
            queue.addLast(pending);
        }
        if (!loop.running() && queue.remove(pending)) {
            pending.fail(stopping());
        }
        return pending.await();
    }

    /** Writes waiting for the writer, the batch it runs not counted. */
    int queued() {
        return queue.size();
    }

    private void run() {
        List<Pending<?>> batch = new ArrayList<>(MAX_BATCH);
        while (loop.running()) {
            try {
                batch.add(queue.takeFirst());
            } catch (InterruptedException e) {
                break;
            }
            queue.drainTo(batch, MAX_BATCH - 1);
            commit(batch);
            batch.clear();
        }
    }

    private void commit(List<Pending<?>> batch) {
        List<Pending<?>> written = new ArrayList<>(batch.size());
        try (Connection connection = connections.getConnection()) {
            try {
                for (Pending<?> pending : batch) {
                    Savepoint savepoint = connection.setSavepoint();
                    try {
                        pending.run(connection, committer);
                        connection.releaseSavepoint(savepoint);
                        written.add(pending);
                    } catch (SQLException | RuntimeException e) {
                        connection.rollback(savepoint);
                        connection.releaseSavepoint(savepoint);
                        pending.fail(e);
                    }
                }
                connection.commit();
            } catch (SQLException | RuntimeException e) {
                rollback(connection, e);
                throw e;
            }
        } catch (SQLException | RuntimeException e) {
            for (Pending<?> pending : batch) {
                pending.fail(e); // a no-op for those that failed alone already
            }
            return;
        }
        Set<String> topics = new LinkedHashSet<>();
        written.forEach(pending -> topics.addAll(pending.topics));
        committer.committed(topics);
        written.forEach(Pending::done);
    }

    private static void rollback(Connection connection, Exception cause) {
        try {
            connection.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e); // the connection is broken; the pool drops it
        }
    }

    private static KilnException stopping() {
        return new KilnException(ErrorCode.UNAVAILABLE, "the server is stopping; the write was not made");
    }

    @Override
    public void close() {
        loop.close();
        for (Pending<?> pending = queue.poll(); pending != null; pending = queue.poll()) {
            pending.fail(stopping());
        }
    }

    /** One caller's write, from its queueing to its outcome. */
    private static final class Pending<T> {
        private final Database.Work<T> work;
        private final Set<String> topics = new LinkedHashSet<>();
        private final CountDownLatch finished = new CountDownLatch(1);
        private T result;
        private Exception failure;

        Pending(Database.Work<T> work) {
            this.work = work;
        }

        /** On the writer thread. */
        void run(Connection connection, Committer committer) throws SQLException {
            result = committer.run(connection, work, topics);
        }

        /** On the writer thread; the first outcome wins. */
        void fail(Exception e) {
            if (finished.getCount() > 0) {
                failure = e;
                finished.countDown();
            }
        }

        void done() {
            finished.countDown();
        }

        /**
         * Waits for the outcome even when interrupted (the write may commit regardless, and the caller
         * must learn whether it did); the interrupt is kept for the caller to see afterwards.
         */
        T await() throws SQLException {
            boolean interrupted = false;
            while (true) {
                try {
                    finished.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return switch (failure) {
                case null -> result;
                case SQLException e -> throw e;
                case RuntimeException e -> throw e;
                default -> throw new IllegalStateException("unexpected failure of a write", failure);
            };
        }
    }
}
