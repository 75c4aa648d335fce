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
import java.util.LinkedHashSet;
import java.util.Properties;
import java.util.Set;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The store's connections and transactions. SQLite runs in WAL mode on one connection (writes are
 * serialised anyway, and one connection never meets a busy database); PostgreSQL gets a pool. The
 * schema is migrated by Flyway at start.
 */
final class Database implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Database.class);
    private static final int MAX_ATTEMPTS = 5;

    /** A unit of work inside one transaction. */
    interface Work<T> {
        T run(Tx tx) throws SQLException;
    }

    private final String url;
    private final Dialect dialect;
    private final HikariDataSource pool;
    private final Signals signals;

    Database(String url, String user, String password, Signals signals) {
        this.url = requireNonNull(url, "url is null");
        this.dialect = Dialect.of(url);
        this.signals = requireNonNull(signals, "signals is null");
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setPoolName("kiln-db");
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
            config.setMaximumPoolSize(1);
            config.addDataSourceProperty("journal_mode", "WAL");
            config.addDataSourceProperty("synchronous", "NORMAL");
            config.addDataSourceProperty("busy_timeout", "10000");
            config.addDataSourceProperty("foreign_keys", "true");
        } else {
            config.setMaximumPoolSize(16);
            config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        }
        this.pool = new HikariDataSource(config);
        migrate();
    }

    Dialect dialect() {
        return dialect;
    }

    String url() {
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
            pool.close();
            throw new KilnException(ErrorCode.UNAVAILABLE, "cannot migrate the database at " + redact(url) + ": "
                    + rootMessage(e), e);
        }
    }

    /**
     * Runs the work in one transaction and, once it has committed, wakes whoever waits on the topics
     * it signalled. A serialisation failure or deadlock between replicas is retried.
     */
    <T> T tx(Work<T> work) {
        return tx(work, false);
    }

    /**
     * A read-only transaction that sees one snapshot throughout (REPEATABLE READ on PostgreSQL; SQLite
     * transactions always do), for answers whose parts must agree with each other.
     */
    <T> T snapshot(Work<T> work) {
        return tx(work, true);
    }

    private <T> T tx(Work<T> work, boolean snapshot) {
        for (int attempt = 1; ; attempt++) {
            Set<String> topics = new LinkedHashSet<>();
            T result;
            try (Connection connection = connect()) {
                boolean isolated = snapshot && dialect == Dialect.POSTGRESQL;
                if (isolated) {
                    connection.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
                }
                try {
                    Tx tx = new Tx(connection, dialect, topics);
                    result = work.run(tx);
                    tx.bumpGenerations();
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

    private Connection connect() throws SQLException {
        try {
            return pool.getConnection();
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
        pool.close();
    }
}
