package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.EnrolAnswer;
import dev.kiln.api.HostEnrolment;
import dev.kiln.api.HostView;
import dev.kiln.api.VmState;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.InstantSource;
import java.util.List;
import java.util.regex.Pattern;

/** Hosts: added with a one-time enrolment token, enrolled, authenticated, drained, removed. */
final class HostStore {
    private static final Pattern NAME = Pattern.compile("[a-z0-9](?:[a-z0-9.-]{0,62})");
    private static final String HOLDING = "'" + VmState.PENDING + "', '" + VmState.BOOTING + "', '" + VmState.RUNNING
            + "', '" + VmState.STOPPING + "'";
    private static final String VIEW = "SELECT h.*, COALESCE(u.vcpus, 0) AS used_vcpus, COALESCE(u.memory, 0) AS used_memory,"
            + " COALESCE(u.disk, 0) AS used_disk, COALESCE(u.n, 0) AS used_vms FROM hosts h LEFT JOIN"
            + " (SELECT host, SUM(cpus) AS vcpus, SUM(memory_mib) AS memory, SUM(disk_gib) AS disk, COUNT(*) AS n"
            + " FROM vms WHERE state IN (" + HOLDING + ") GROUP BY host) u ON u.host = h.name";

    private final Database db;
    private final InstantSource clock;

    HostStore(Database db, InstantSource clock) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    HostEnrolment add(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "host name '" + name
                    + "' must be 1 to 63 lower-case letters, digits, '.' or '-', starting with a letter or digit");
        }
        String token = Tokens.newToken("kiln-enrol-");
        long now = clock.millis();
        db.tx(tx -> {
            // One statement, not a check and an insert: two adds of one name at once (on PostgreSQL) are a
            // conflict for the second, not a unique-key failure.
            if (tx.update("INSERT INTO hosts (name, enrolment_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    name, Tokens.hash(token), now) == 0) {
                throw new KilnException(ErrorCode.CONFLICT, "host " + name + " exists already; `kiln hosts rm "
                        + name + "` (after `kiln hosts drain " + name + "`) removes it");
            }
            return null;
        });
        return new HostEnrolment(name, token);
    }

    /** Exchanges a one-time enrolment token for the host's lasting token; the enrolment token dies. */
    EnrolAnswer enrol(String enrolmentToken) {
        if (enrolmentToken == null || enrolmentToken.isBlank()) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "no enrolment token given; `kiln hosts add NAME` prints one");
        }
        String hostToken = Tokens.newToken("kiln-host-");
        String name = db.tx(tx -> {
            String host = tx.queryOne("SELECT name FROM hosts WHERE enrolment_hash = ?" + tx.dialect().forUpdate(),
                    row -> row.getString(1), Tokens.hash(enrolmentToken)).orElseThrow(() -> new KilnException(
                    ErrorCode.UNAUTHENTICATED, "the enrolment token is unknown or has been used already; each token from"
                            + " `kiln hosts add NAME` enrols one agent once"));
            tx.update("UPDATE hosts SET enrolment_hash = NULL, token_hash = ? WHERE name = ?",
                    Tokens.hash(hostToken), host);
            return host;
        });
        return new EnrolAnswer(name, hostToken);
    }

    /** The host a token belongs to. */
    String authenticate(String hostToken) {
        return db.read(tx -> tx.queryOne("SELECT name FROM hosts WHERE token_hash = ?", row -> row.getString(1),
                Tokens.hash(hostToken))).orElseThrow(() -> new KilnException(ErrorCode.UNAUTHENTICATED,
                "the host token is unknown or was revoked (its host was removed with `kiln hosts rm`); enrol the"
                        + " agent again with a token from `kiln hosts add NAME`"));
    }

    List<HostView> list() {
        return db.read(tx -> tx.query(VIEW + " ORDER BY h.name", HostStore::view));
    }

    HostView get(String name) {
        return db.read(tx -> get(tx, name));
    }

    HostView drain(String name, boolean draining) {
        return db.tx(tx -> {
            get(tx, name);
            tx.update("UPDATE hosts SET draining = ? WHERE name = ?", draining, name);
            tx.desiredChanged(name);
            tx.signal(Signals.SCHEDULE);
            return get(tx, name);
        });
    }

    void remove(String name) {
        db.tx(tx -> {
            HostView host = get(tx, name);
            if (!host.state().equals("DRAINING") && !host.state().equals("PENDING")
                    && !(host.state().equals("OFFLINE") && isDraining(tx, name))) {
                throw new KilnException(ErrorCode.CONFLICT, "host " + name + " is " + host.state()
                        + "; drain it first with `kiln hosts drain " + name + "`, so that it takes no new VMs");
            }
            List<String> vms = tx.query("SELECT id FROM vms WHERE host = ? AND state IN (" + HOLDING + ") ORDER BY id",
                    row -> row.getString(1), name);
            if (!vms.isEmpty()) {
                throw new KilnException(ErrorCode.CONFLICT, "host " + name + " still has " + vms.size() + " VM(s) "
                        + vms + "; they finish first (or `kiln cancel` their jobs)");
            }
            tx.update("DELETE FROM hosts WHERE name = ?", name);
            tx.desiredChanged(name);
            tx.signal(Signals.SCHEDULE);
            return null;
        });
    }

    private static boolean isDraining(Tx tx, String name) throws SQLException {
        return tx.queryLong("SELECT draining FROM hosts WHERE name = ?", name) == 1;
    }

    static HostView get(Tx tx, String name) throws SQLException {
        return tx.queryOne(VIEW + " WHERE h.name = ?", HostStore::view, name).orElseThrow(() -> new KilnException(
                ErrorCode.NOT_FOUND, "no host " + name + "; `kiln hosts` lists them"));
    }

    static String state(ResultSet row) throws SQLException {
        if (row.getString("arch") == null) {
            return "PENDING";
        }
        if (row.getInt("offline") == 1) {
            return "OFFLINE";
        }
        return row.getInt("draining") == 1 ? "DRAINING" : "ACTIVE";
    }

    private static HostView view(ResultSet row) throws SQLException {
        return new HostView(row.getString("name"), state(row), row.getString("arch"), row.getInt("vcpus"),
                row.getLong("memory_mib"), row.getInt("disk_gib"), row.getInt("used_vcpus"), row.getLong("used_memory"),
                row.getInt("used_disk"), row.getInt("used_vms"), row.getString("version"),
                Tx.instantOrNull(row, "last_seen"), EmulatedArches.ids(row.getString("emulated_arches")));
    }
}
