package dev.kiln.server;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/** One open transaction: small helpers over JDBC, and the topics to signal once it commits. */
public final class Tx {
    /** Reads one row. */
    public interface RowMapper<T> {
        T map(ResultSet row) throws SQLException;
    }

    private final Connection connection;
    private final Dialect dialect;
    private final Database.Access access;
    private final Set<String> topics;
    private final Set<String> changedHosts = new java.util.TreeSet<>();

    Tx(Connection connection, Dialect dialect, Database.Access access, Set<String> topics) {
        this.connection = connection;
        this.dialect = dialect;
        this.access = access;
        this.topics = topics;
    }

    public Dialect dialect() {
        return dialect;
    }

    /** Wakes waiters on the topic once this transaction commits (on every replica). */
    void signal(String topic) {
        writing("signal " + topic);
        topics.add(topic);
    }

    /**
     * The VMs that should exist on the host changed: its generation moves on before commit (so agents
     * can tell a newer answer from an older one) and its held syncs wake after.
     */
    public void desiredChanged(String host) {
        writing("change host " + host + "'s desired VMs");
        changedHosts.add(host);
        topics.add(Signals.host(host));
    }

    void bumpGenerations() throws SQLException {
        for (String host : changedHosts) {
            update("UPDATE hosts SET generation = generation + 1 WHERE name = ?", host);
        }
        changedHosts.clear();
    }

    public int update(String sql, Object... args) throws SQLException {
        writing(sql);
        try (PreparedStatement statement = prepare(sql, args)) {
            return statement.executeUpdate();
        }
    }

    /** A read-only transaction runs on a reader, where a write would fail later and less clearly. */
    private void writing(String what) {
        if (!access.writes()) {
            throw new IllegalStateException("a read-only transaction cannot " + what + "; use Database.tx");
        }
    }

    public <T> List<T> query(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
        try (PreparedStatement statement = prepare(sql, args); ResultSet rows = statement.executeQuery()) {
            List<T> result = new ArrayList<>();
            while (rows.next()) {
                result.add(mapper.map(rows));
            }
            return result;
        }
    }

    public <T> Optional<T> queryOne(String sql, RowMapper<T> mapper, Object... args) throws SQLException {
        List<T> rows = query(sql, mapper, args);
        return rows.isEmpty() ? Optional.empty() : Optional.of(rows.getFirst());
    }

    public long queryLong(String sql, Object... args) throws SQLException {
        return queryOne(sql, row -> row.getLong(1), args).orElse(0L);
    }

    private PreparedStatement prepare(String sql, Object... args) throws SQLException {
        PreparedStatement statement = connection.prepareStatement(sql);
        try {
            for (int i = 0; i < args.length; i++) {
                Object arg = args[i];
                if (arg == null) {
                    statement.setNull(i + 1, Types.VARCHAR);
                } else if (arg instanceof Enum<?> e) {
                    statement.setString(i + 1, e.name());
                } else if (arg instanceof Boolean b) {
                    statement.setInt(i + 1, b ? 1 : 0);
                } else {
                    statement.setObject(i + 1, arg);
                }
            }
            return statement;
        } catch (SQLException e) {
            statement.close();
            throw e;
        }
    }

    /** A nullable integer column. */
    public static Integer intOrNull(ResultSet row, String column) throws SQLException {
        int value = row.getInt(column);
        return row.wasNull() ? null : value;
    }

    /** A nullable epoch-millisecond column as ISO-8601. */
    public static String instantOrNull(ResultSet row, String column) throws SQLException {
        long value = row.getLong(column);
        return row.wasNull() ? null : java.time.Instant.ofEpochMilli(value).toString();
    }
}
