package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies SQLite's write-ahead log into the database file on a thread and connection of its own. By
 * default SQLite does it inside the commit that grows the log past 1,000 pages, and the checkpoint
 * waits for an fsync of the database file: every write queued behind that commit waited for the disk
 * (the fleet benchmark's slowest commits, up to ~100 ms on a busy disk). The writer's connection
 * therefore runs with {@code wal_autocheckpoint = 0}, and this loop runs PASSIVE checkpoints, which wait
 * for no writer and no reader; the writer starts the log over once a checkpoint has copied all of it.
 */
final class SqliteCheckpoints implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SqliteCheckpoints.class);

    private final String url;
    private final Duration interval;
    private final BackgroundLoop loop;
    private Connection connection; // only on the loop's thread

    SqliteCheckpoints(String url, Duration interval) {
        this.url = requireNonNull(url, "url is null");
        this.interval = requireNonNull(interval, "interval is null");
        this.loop = new BackgroundLoop("kiln-db-checkpoints", this::run);
    }

    void start() {
        loop.start();
    }

    private void run() {
        boolean failing = false;
        try {
            while (loop.running()) {
                Thread.sleep(interval);
                try {
                    checkpoint();
                    if (failing) {
                        log.info("checkpoints of {} work again", Database.redact(url));
                        failing = false;
                    }
                } catch (SQLException e) {
                    if (!failing) {
                        log.warn("checkpointing {} failed: {}; retrying every {} ms (meanwhile its log grows)",
                                Database.redact(url), Database.rootMessage(e), interval.toMillis());
                        failing = true;
                    }
                    closeConnection();
                }
            }
        } catch (InterruptedException e) {
            // Stopping.
        } finally {
            closeConnection();
        }
    }

    /** One PASSIVE checkpoint; the connection is opened on first use and after a failure. */
    private void checkpoint() throws SQLException {
        if (connection == null) {
            connection = DriverManager.getConnection(url);
        }
        try (Statement statement = connection.createStatement()) {
            // Frames a reader still needs stay in the log for the next one.
            statement.execute("PRAGMA wal_checkpoint(PASSIVE)");
        }
    }

    private void closeConnection() {
        if (connection == null) {
            return;
        }
        try {
            connection.close();
        } catch (SQLException e) {
            log.debug("closing the checkpoint connection of {} failed: {}", Database.redact(url), e.getMessage());
        }
        connection = null;
    }

    @Override
    public void close() {
        loop.close();
    }
}
