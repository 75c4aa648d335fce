package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.HostView;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import java.time.InstantSource;
import java.util.List;

/**
 * What the dashboard ({@code dev.kiln.server.dashboard}) may read and do, through the same stores as the API: so that
 * a cancel or a drain from a page is the one the CLI makes, and the dashboard's own queries see the same database.
 */
public final class ControlPlane {
    private final Database db;
    private final InstantSource clock;
    private final String adminToken;
    private final ApiHandler.Stores stores;
    private final WaitReasons waitReasons;

    ControlPlane(Database db, InstantSource clock, String adminToken, ApiHandler.Stores stores, WaitReasons waitReasons) {
        this.db = requireNonNull(db, "db is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.adminToken = requireNonNull(adminToken, "adminToken is null");
        this.stores = requireNonNull(stores, "stores is null");
        this.waitReasons = requireNonNull(waitReasons, "waitReasons is null");
    }

    public Database db() {
        return db;
    }

    public InstantSource clock() {
        return clock;
    }

    /** Whether {@code token} is the admin token (compared in constant time). */
    public boolean isAdmin(String token) {
        return token != null && Tokens.sameSecret(token, adminToken);
    }

    /** Whether {@code tokenHash} is the hash of the admin token (compared in constant time). */
    public boolean isAdminHash(String tokenHash) {
        return tokenHash != null && java.security.MessageDigest.isEqual(tokenHash.getBytes(java.nio.charset.StandardCharsets.US_ASCII),
                Tokens.hash(adminToken).getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    }

    /** A new secret of 256 random bits, with a prefix that says what it is. */
    public static String newToken(String prefix) {
        return Tokens.newToken(prefix);
    }

    /** How a secret is kept: its SHA-256 (the secrets are random, so there is nothing to guess). */
    public static String hash(String token) {
        return Tokens.hash(token);
    }

    public List<HostView> hosts() {
        return stores.hosts().list();
    }

    public JobView job(String id) {
        return stores.jobs().get(id);
    }

    /** Jobs with their providers' sides (repository, workflow, labels, runner), in the order given, without timelines. */
    public List<JobView> describe(List<String> ids) {
        return stores.jobs().listed(ids);
    }

    public JobView cancel(String id) {
        return stores.jobs().cancel(id);
    }

    public HostView drain(String host, boolean draining) {
        return stores.hosts().drain(host, draining);
    }

    public LogPage logs(String job, long after) {
        return stores.logs().read(job, after);
    }

    public WaitReasons waitReasons() {
        return waitReasons;
    }
}
