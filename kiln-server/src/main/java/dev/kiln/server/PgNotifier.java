package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Carries {@link Signals} between replicas on one PostgreSQL database: a transaction NOTIFYs its topics
 * (delivered at commit), and each replica LISTENs on a connection of its own and signals them locally.
 * After a lost connection it signals {@link Signals#ALL}, since notifications may have been missed.
 */
final class PgNotifier implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PgNotifier.class);
    private static final String CHANNEL = "kiln_changes";
    private static final int MAX_PAYLOAD = 7000;

    private final Database database;
    private final String user;
    private final String password;
    private final Signals signals;
    private final Thread thread;
    private volatile boolean stopped;
    private volatile Connection connection;

    PgNotifier(Database database, String user, String password, Signals signals) {
        this.database = requireNonNull(database, "database is null");
        this.user = user;
        this.password = password;
        this.signals = requireNonNull(signals, "signals is null");
        this.thread = Thread.ofPlatform().name("kiln-pg-listen").daemon().unstarted(this::listen);
    }

    void start() {
        thread.start();
    }

    static void notify(Connection connection, Set<String> topics) throws SQLException {
        StringBuilder payload = new StringBuilder();
        for (String topic : topics) {
            if (payload.length() + topic.length() + 1 > MAX_PAYLOAD) {
                payload.setLength(0);
                payload.append(Signals.ALL);
                break;
            }
            payload.append(payload.isEmpty() ? "" : "\n").append(topic);
        }
        try (PreparedStatement statement = connection.prepareStatement("SELECT pg_notify(?, ?)")) {
            statement.setString(1, CHANNEL);
            statement.setString(2, payload.toString());
            statement.execute();
        }
    }

    private void listen() {
        Duration backoff = Duration.ofMillis(100);
        while (!stopped) {
            try (Connection c = database.dedicatedConnection(user, password)) {
                connection = c;
                c.setAutoCommit(true);
                try (Statement statement = c.createStatement()) {
                    statement.execute("LISTEN " + CHANNEL);
                }
                // Whatever happened while this replica was not listening is re-checked by every waiter.
                signals.signal(List.of(Signals.ALL));
                backoff = Duration.ofMillis(100);
                PGConnection pg = c.unwrap(PGConnection.class);
                while (!stopped) {
                    PGNotification[] notifications = pg.getNotifications(1000);
                    if (notifications == null) {
                        continue;
                    }
                    for (PGNotification notification : notifications) {
                        signals.signal(Arrays.asList(notification.getParameter().split("\n")));
                    }
                }
            } catch (SQLException e) {
                if (stopped) {
                    return;
                }
                log.warn("listening for other replicas' changes failed ({}); retrying in {} ms",
                        Database.rootMessage(e), backoff.toMillis());
                try {
                    Thread.sleep(backoff);
                } catch (InterruptedException interrupted) {
                    return;
                }
                backoff = backoff.multipliedBy(2).compareTo(Duration.ofSeconds(5)) > 0 ? Duration.ofSeconds(5)
                        : backoff.multipliedBy(2);
            }
        }
    }

    @Override
    public void close() {
        stopped = true;
        Connection c = connection;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // Closing anyway.
            }
        }
        thread.interrupt();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
