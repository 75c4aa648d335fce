package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

/**
 * A signed-in browser.
 *
 * @param idHash the hash of the session id its cookie holds
 * @param csrf what its pages send back with each action ({@code X-Kiln-Csrf}), which another site cannot read
 */
record Session(String idHash, Role role, String csrf, long expiresAt) {
    Session {
        requireNonNull(idHash, "idHash is null");
        requireNonNull(role, "role is null");
        requireNonNull(csrf, "csrf is null");
    }
}
