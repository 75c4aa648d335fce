package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLTransientException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.Properties;
import java.util.Set;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's connections and transactions. SQLite runs in WAL mode with one writing connection on
 * the {@link SqliteWriter}'s thread (writes are serialised anyway, and one writer never meets a busy
 * database), its checkpoints on {@link SqliteCheckpoints}' own, and a small pool of read-only
 * connections: in WAL a reader sees the last commit without waiting for the writer, so the agents'
 * held syncs and the API's listings never queue behind a scheduling pass or a submission.
 * PostgreSQL gets one pool for both. The schema is migrated by Flyway at start.
 */
public final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);
    private static final int MAX_ATTEMPTS = 5;
    /** SQLite readers: enough for the agents' syncs on two to four cores, few enough to stay cheap. */
    static final int SQLITE_READERS = 4;
    /** How often SQLite's write-ahead log is copied into the database, off the writer's path. */
    static final Duration SQLITE_CHECKPOINT_INTERVAL = Duration.ofMillis(250);

    /** A unit of work inside one transaction. */
    public interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    private final String url;
    private final Dialect dialect;
    private final HikariDataSource pool;
    /** Read-only transactions: a pool of its own on SQLite, {@link #pool} on PostgreSQL. */
    private final HikariDataSource readPool;
    /** Every write on SQLite, one after the other on a thread of its own; null on PostgreSQL. */
    private final SqliteWriter writer;
    /** SQLite's checkpoints, which its writer leaves to this; null on PostgreSQL. */
    private final SqliteCheckpoints checkpoints;
    private final Signals signals;

    Database(String url, String user, String password, Signals signals) {
        this.url = requireNonNull(url, "url is null");
        this.dialect = Dialect.of(url);
        this.signals = requireNonNull(signals, "signals is null");
        if (dialect == Dialect.SQLITE) {
            // Before SQLite makes the file (and its WAL and shared memory with the file's mode).
            DataFiles.secureSqlite(url);
        }
        this.pool = new HikariDataSource(poolConfig("kiln-db", user, password, false));
        try {
            migrate();
            // Opened after the migration: a reader never sees a schema being made.
            this.readPool = dialect == Dialect.SQLITE ? new HikariDataSource(poolConfig("kiln-db-read", user,
                    password, true)) : pool;
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        this.writer = dialect == Dialect.SQLITE ? new SqliteWriter(pool, new SqliteWriter.Committer() {
            @Override
            public <T> T run(Connection connection, Work<T> work, Set<String> topics) throws SQLException {
                return Database.this.run(connection, work, Access.WRITE, topics);
            }

            @Override
            public void committed(Set<String> topics) {
                signals.signal(topics);
            }
        }) : null;
        this.checkpoints = dialect == Dialect.SQLITE ? new SqliteCheckpoints(url, SQLITE_CHECKPOINT_INTERVAL) : null;
        if (writer != null) {
            writer.start();
            checkpoints.start();
        }
    }

    private HikariConfig poolConfig(String name, String user, String password, boolean readOnly) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setPoolName(name);
        config.setAutoCommit(false);
        config.setConnectionTimeout(10_000);
        config.setInitializationFailTimeout(-1);
        if (user != null) {
            config.setUsername(user);
        }
        if (password != null) {
            config.setPassword(password);
        }
        if (dialect == Dialect.SQLITE) {
            config.setMaximumPoolSize(readOnly ? SQLITE_READERS : 1);
            config.addDataSourceProperty("journal_mode", "WAL");
            config.addDataSourceProperty("synchronous", "NORMAL");
            config.addDataSourceProperty("busy_timeout", "10000");
            config.addDataSourceProperty("foreign_keys", "true");
            if (readOnly) {
                // Not Connection.setReadOnly: sqlite-jdbc refuses it on an open connection (xerial/sqlite-jdbc#247).
                config.setConnectionInitSql("PRAGMA query_only = true");
            } else {
                config.setConnectionInitSql("PRAGMA wal_autocheckpoint = 0"); // SqliteCheckpoints does it
            }
        } else {
            config.setMaximumPoolSize(16);
            config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        }
        return config;
    }

    /**
     * On SQLite, rewrites the database file without its free pages (VACUUM) and empties the write-ahead
     * log, so that values a transaction replaced are gone from the files; nothing on PostgreSQL.
     */
    void compact() {
        if (dialect != Dialect.SQLITE) {
            return;
        }
        try (Connection connection = DriverManager.getConnection(url);
                java.sql.Statement statement = connection.createStatement()) {
            statement.setQueryTimeout(600);
            statement.execute("PRAGMA busy_timeout = 10000");
            statement.execute("VACUUM");
            statement.execute("PRAGMA wal_checkpoint(TRUNCATE)");
        } catch (SQLException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot compact the database at " + redact(url) + ": "
                    + rootMessage(e), e);
        }
    }

    /** Writes waiting for SQLite's writer (0 on PostgreSQL, whose writes wait in the pool). */
    int queuedWrites() {
        return writer == null ? 0 : writer.queued();
    }

    public Dialect dialect() {
        return dialect;
    }

    public String url() {
        return url;
    }

    private void migrate() {
        try {
            var result = Flyway.configure().dataSource(pool).locations("classpath:db/migration")
                    .failOnMissingLocations(true).load().migrate();
            if (result.migrationsExecuted > 0) {
                log.info("database {} migrated to schema version {}", redact(url), result.targetSchemaVersion);
            }
        } catch (RuntimeException e) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot migrate the database at " + redact(url) + ": "
                    + rootMessage(e), e);
        }
    }

    /**
     * Runs the work in one transaction and, once it has committed, wakes whoever waits on the topics
     * it signalled. A serialisation failure or deadlock between replicas is retried. On SQLite the
     * {@link SqliteWriter} runs it, maybe in one commit with other writes.
     */
    public <T> T tx(Work<T> work) {
        return tx(work, Access.WRITE);
    }

    /**
     * A write that goes ahead of the writes queued on SQLite (no difference on PostgreSQL): for the
     * scheduling pass, which every queued job waits for.
     */
    <T> T priorityTx(Work<T> work) {
        return tx(work, Access.PRIORITY_WRITE);
    }

    /** A read-only transaction (one statement's view at a time on PostgreSQL), which never waits for a writer. */
    public <T> T read(Work<T> work) {
        return tx(work, Access.READ);
    }

    /**
     * A read-only transaction that sees one snapshot throughout (REPEATABLE READ on PostgreSQL; SQLite
     * transactions always do), for answers whose parts must agree with each other.
     */
    public <T> T snapshot(Work<T> work) {
        return tx(work, Access.SNAPSHOT);
    }

    /** What a transaction may do, and so which connections it runs on. */
    enum Access {
        WRITE, PRIORITY_WRITE, READ, SNAPSHOT;

        boolean writes() {
            return this == WRITE || this == PRIORITY_WRITE;
        }
    }

    private <T> T tx(Work<T> work, Access access) {
        if (access.writes() && writer != null) {
            try {
                return writer.write(work, access == Access.PRIORITY_WRITE);
            } catch (SQLException e) {
                throw unavailable(e);
            }
        }
        for (int attempt = 1; ; attempt++) {
            Set<String> topics = new LinkedHashSet<>();
            T result;
            try (Connection connection = connect(access.writes() ? pool : readPool)) {
                boolean isolated = access == Access.SNAPSHOT && dialect == Dialect.POSTGRESQL;
                if (isolated) {
                    connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                }
                try {
                    result = run(connection, work, access, topics);
                    if (dialect == Dialect.POSTGRESQL && !topics.isEmpty()) {
                        PgNotifier.notify(connection, topics);
                    }
                    connection.commit();
                } catch (SQLException | RuntimeException e) {
                    rollback(connection);
                    throw e;
                } finally {
                    if (isolated) {
                        connection.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
                    }
                }
            } catch (SQLException e) {
                if (retriable(e) && attempt < MAX_ATTEMPTS) {
                    log.debug("transaction attempt {} conflicted ({}); retrying", attempt, e.getMessage());
                    continue;
                }
                throw unavailable(e);
            }
            signals.signal(topics);
            return result;
        }
    }

    /** The work in an open transaction, and what every transaction does before it commits. */
    private <T> T run(Connection connection, Work<T> work, Access access, Set<String> topics) throws SQLException {
        Tx tx = new Tx(connection, dialect, access, topics);
        T result = work.run(tx);
        tx.bumpGenerations();
        return result;
    }

    private static Connection connect(HikariDataSource from) throws SQLException {
        try {
            return from.getConnection();
        } catch (SQLException e) {
            throw new SQLTransientException("no database connection: " + rootMessage(e), e);
        }
    }

    /** A connection outside the pool, for PostgreSQL's LISTEN. */
    Connection dedicatedConnection(String user, String password) throws SQLException {
        Properties properties = new Properties();
        if (user != null) {
            properties.setProperty("user", user);
        }
        if (password != null) {
            properties.setProperty("password", password);
        }
        return DriverManager.getConnection(url, properties);
    }

    private static void rollback(Connection connection) {
        try {
            connection.rollback();
        } catch (SQLException ignored) {
            // The connection is broken; the pool drops it.
        }
    }

    private static boolean retriable(SQLException e) {
        String state = e.getSQLState();
        return "40001".equals(state) || "40P01".equals(state)
                || (e.getMessage() != null && e.getMessage().contains("SQLITE_BUSY"));
    }

    private KilnException unavailable(SQLException e) {
        return new KilnException(ErrorCode.UNAVAILABLE, "the database at " + redact(url) + " failed: "
                + rootMessage(e), e);
    }

    static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() == null ? root.getClass().getSimpleName() : root.getMessage();
    }

    /** The URL without a password that may sit in its query. */
    static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&]*", "$1***");
    }

    @Override
    public void close() {
        if (writer != null) {
            writer.close();
            checkpoints.close();
        }
        if (readPool != pool) {
            readPool.close();
        }
        pool.close();
    }
}
