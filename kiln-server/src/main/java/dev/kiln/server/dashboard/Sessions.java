package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import dev.kiln.server.ControlPlane;
import dev.kiln.server.Database;
import java.time.Duration;
import java.util.Optional;

/**
 * Sessions, kept in the store so that every replica knows them and a restart keeps them. Only the hash of a session
 * id is stored. A session lives until it expires, its browser signs out, or the token it was opened with stops
 * working (a viewer token revoked, the admin token changed).
 */
final class Sessions {
    static final Duration LIFETIME = Duration.ofHours(12);

    private final ControlPlane control;
    private final Database db;

    Sessions(ControlPlane control) {
        this.control = requireNonNull(control, "control is null");
        this.db = control.db();
    }

    /** A session opened by a sign-in, and the id its cookie carries. */
    record Opened(String id, Session session) {}

    /** Opens a session for the admin token or a viewer token; empty for any other token. */
    Optional<Opened> open(String token) {
        if (token == null || token.isBlank() || token.length() > 512) {
            return Optional.empty();
        }
        String tokenHash = ControlPlane.hash(token);
        long now = control.clock().millis();
        Role role;
        if (control.isAdmin(token)) {
            role = Role.ADMIN;
        } else if (db.read(tx -> tx.queryLong("SELECT COUNT(*) FROM viewer_tokens WHERE token_hash = ?", tokenHash)) > 0) {
            role = Role.VIEWER;
        } else {
            return Optional.empty();
        }
        String id = ControlPlane.newToken("kiln-session-");
        Session session = new Session(ControlPlane.hash(id), role, ControlPlane.newToken(""), now + LIFETIME.toMillis());
        db.tx(tx -> {
            tx.update("DELETE FROM dashboard_sessions WHERE expires_at <= ?", now);
            return tx.update("INSERT INTO dashboard_sessions (id_hash, role, token_hash, csrf, created_at, expires_at)"
                    + " VALUES (?, ?, ?, ?, ?, ?)", session.idHash(), role.name(), tokenHash, session.csrf(), now,
                    session.expiresAt());
        });
        return Optional.of(new Opened(id, session));
    }

    /** The live session of a cookie's id, if any. */
    Optional<Session> find(String id) {
        if (id == null || id.length() > 128) {
            return Optional.empty();
        }
        long now = control.clock().millis();
        return db.read(tx -> tx.queryOne("SELECT id_hash, role, token_hash, csrf, expires_at FROM dashboard_sessions"
                + " WHERE id_hash = ? AND expires_at > ?", row -> new Stored(new Session(row.getString("id_hash"),
                Role.valueOf(row.getString("role")), row.getString("csrf"), row.getLong("expires_at")),
                row.getString("token_hash")), ControlPlane.hash(id), now)).filter(this::tokenLives).map(Stored::session);
    }

    private record Stored(Session session, String tokenHash) {}

    /** Whether the token a session was opened with still opens one. */
    private boolean tokenLives(Stored stored) {
        if (stored.session().role() == Role.ADMIN) {
            return control.isAdminHash(stored.tokenHash());
        }
        return db.read(tx -> tx.queryLong("SELECT COUNT(*) FROM viewer_tokens WHERE token_hash = ?", stored.tokenHash())) > 0;
    }

    void close(Session session) {
        db.tx(tx -> tx.update("DELETE FROM dashboard_sessions WHERE id_hash = ?", session.idHash()));
    }
}
