package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * SQLite's writes on one thread, committed in groups, and its reads on a pool of their own: many
 * writers at once each get their own outcome, a failing write takes no other with it, a reader woken
 * by a write's signal sees that write, the scheduling pass goes ahead of queued writes, and the log
 * is checkpointed by a loop of its own, not inside the writer's commits.
 */
@Timeout(60)
class SqliteWritesTest {
    private static final int WRITERS = 200;

    @TempDir
    Path dir;
    private final Signals signals = new Signals();
    private Database db;

    @BeforeEach
    void open() {
        db = new Database("jdbc:sqlite:" + dir.resolve("kiln.db"), null, null, signals);
    }

    @AfterEach
    void close() {
        db.close();
    }

    private static int addHost(Tx tx, int n) throws java.sql.SQLException {
        return tx.update("INSERT INTO hosts (name, created_at) VALUES (?, ?)", "h" + n, n);
    }

    private long hosts() {
        return db.read(tx -> tx.queryLong("SELECT COUNT(*) FROM hosts"));
    }

    @Test
    void concurrentWritesAllCommitAndEachCallerGetsItsOwnResult() throws Exception {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < WRITERS; i++) {
                int n = i;
                results.add(threads.submit(() -> db.tx(tx -> {
                    addHost(tx, n);
                    return n;
                })));
            }
            for (int i = 0; i < WRITERS; i++) {
                assertThat(results.get(i).get()).isEqualTo(i);
            }
        }
        assertThat(hosts()).isEqualTo(WRITERS);
    }

    @Test
    void aFailingWriteIsUndoneAloneAndItsCallerGetsItsException() throws Exception {
        List<Future<Integer>> results = new ArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < WRITERS; i++) {
                int n = i;
                results.add(threads.submit(() -> db.tx(tx -> {
                    addHost(tx, n);
                    if (n % 3 == 0) {
                        throw new KilnException(ErrorCode.CONFLICT, "write " + n + " refused");
                    }
                    return n;
                })));
            }
        }
        for (int i = 0; i < WRITERS; i++) {
            Future<Integer> result = results.get(i);
            if (i % 3 == 0) {
                assertThatThrownBy(result::get).hasCauseInstanceOf(KilnException.class)
                        .hasMessageContaining("write " + i + " refused");
            } else {
                assertThat(result.get()).isEqualTo(i);
            }
        }
        List<String> stored = db.read(tx -> tx.query("SELECT name FROM hosts", row -> row.getString(1)));
        assertThat(stored).hasSize(WRITERS - (WRITERS + 2) / 3)
                .noneMatch(name -> Integer.parseInt(name.substring(1)) % 3 == 0);
    }

    @Test
    void aReaderWokenByAWritesSignalSeesThatWrite() throws Exception {
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < 100; i++) {
                int n = i;
                long seen = signals.version("test");
                Future<Long> reader = threads.submit(() -> {
                    signals.await("test", seen, Duration.ofSeconds(10));
                    return db.read(tx -> tx.queryLong("SELECT COUNT(*) FROM hosts WHERE name = ?", "h" + n));
                });
                db.tx(tx -> {
                    tx.signal("test");
                    return addHost(tx, n);
                });
                assertThat(reader.get()).as("write %d seen by the reader it woke", n).isEqualTo(1);
            }
        }
    }

    @Test
    void thePassGoesAheadOfQueuedWrites() throws Exception {
        CountDownLatch writerBusy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<String> order = new CopyOnWriteArrayList<>();
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<?> blocker = threads.submit(() -> db.tx(tx -> {
                writerBusy.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return null;
            }));
            writerBusy.await();
            List<Future<?>> writes = new ArrayList<>();
            for (String name : List.of("a", "b")) {
                writes.add(threads.submit(() -> db.tx(tx -> order.add(name))));
                int queued = writes.size();
                await().until(() -> db.queuedWrites() == queued);
            }
            writes.add(threads.submit(() -> db.priorityTx(tx -> order.add("pass"))));
            await().until(() -> db.queuedWrites() == 3);
            release.countDown();
            blocker.get();
            for (Future<?> write : writes) {
                write.get();
            }
        }
        assertThat(order).containsExactly("pass", "a", "b");
    }

    @Test
    void theLogIsCopiedIntoTheDatabaseOffTheWriter() throws Exception {
        long autocheckpoint = db.tx(tx -> tx.queryLong("PRAGMA wal_autocheckpoint"));
        assertThat(autocheckpoint).isZero();
        Path file = dir.resolve("kiln.db");
        long before = java.nio.file.Files.size(file);
        String padding = "x".repeat(200);
        db.tx(tx -> {
            for (int i = 0; i < 2000; i++) {
                tx.update("INSERT INTO hosts (name, version, created_at) VALUES (?, ?, ?)", "h" + i, padding, i);
            }
            return null;
        });
        // The writer never checkpoints, so only the checkpoint loop makes the database file grow before close.
        await().atMost(Duration.ofSeconds(20)).until(() -> java.nio.file.Files.size(file) > before + 300_000);
    }

    @Test
    void readOnlyTransactionsRefuseToWriteOrSignal() {
        assertThatThrownBy(() -> db.read(tx -> addHost(tx, 1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("read-only");
        assertThatThrownBy(() -> db.snapshot(tx -> {
            tx.desiredChanged("h1");
            return null;
        })).isInstanceOf(IllegalStateException.class).hasMessageContaining("read-only");
        assertThat(hosts()).isZero();
    }

    @Test
    void aWriteInsideAWriteFailsInsteadOfWaitingForItself() {
        assertThatThrownBy(() -> db.tx(tx -> db.tx(inner -> addHost(inner, 1))))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("wait for itself");
        assertThat(hosts()).isZero();
    }

    @Test
    void aWriteAfterCloseFailsAsUnavailable() {
        db.close();
        CompletableFuture<Integer> write = CompletableFuture.supplyAsync(() -> db.tx(tx -> addHost(tx, 1)));
        assertThatThrownBy(write::join).hasCauseInstanceOf(KilnException.class)
                .hasMessageContaining("stopping");
        db = new Database("jdbc:sqlite:" + dir.resolve("kiln.db"), null, null, signals);
        assertThat(hosts()).isZero();
    }
}
