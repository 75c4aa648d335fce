package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.ViewerToken;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.server.ControlPlane;
import dev.kiln.server.Database;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.regex.Pattern;

/** Read-only tokens for the dashboard, made and revoked by the admin; only their hashes are kept. */
final class ViewerTokens {
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

    private final Database db;
    private final InstantSource clock;

    ViewerTokens(ControlPlane control) {
        requireNonNull(control, "control is null");
        this.db = control.db();
        this.clock = control.clock();
    }

    /** Makes a token; the answer is the only time it is shown. */
    ViewerToken.Created create(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "viewer token name '" + shorten(name) + "' must be 1 to 64"
                    + " lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");
        }
        String token = ControlPlane.newToken("kiln-viewer-");
        long now = clock.millis();
        db.tx(tx -> {
            if (tx.update("INSERT INTO viewer_tokens (name, token_hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                    name, ControlPlane.hash(token), now) == 0) {
                throw new KilnException(ErrorCode.CONFLICT, "viewer token " + name + " exists already; `kiln viewer-tokens"
                        + " revoke " + name + "` removes it");
            }
            return null;
        });
        return new ViewerToken.Created(name, token, Instant.ofEpochMilli(now).toString());
    }

    List<ViewerToken> list() {
        return db.read(tx -> tx.query("SELECT name, created_at FROM viewer_tokens ORDER BY name",
                row -> new ViewerToken(row.getString("name"), Instant.ofEpochMilli(row.getLong("created_at")).toString())));
    }

    /** Removes the token; the sessions it opened end with it. */
    void revoke(String name) {
        db.tx(tx -> {
            var hash = tx.queryOne("SELECT token_hash FROM viewer_tokens WHERE name = ?", row -> row.getString(1), name);
            if (hash.isEmpty()) {
                throw new KilnException(ErrorCode.NOT_FOUND, "no viewer token " + shorten(name)
                        + "; `kiln viewer-tokens` lists them");
            }
            tx.update("DELETE FROM dashboard_sessions WHERE token_hash = ?", hash.get());
            return tx.update("DELETE FROM viewer_tokens WHERE name = ?", name);
        });
    }

    private static String shorten(String text) {
        return text == null ? "" : text.length() > 64 ? text.substring(0, 64) + "…" : text;
    }
}
