package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.core.SchedulerConfig;
import dev.kiln.core.SizeLabels;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything a server is started with. Defaults are in {@link #defaults}; {@link #check} lists every
 * problem at once. The database password and admin token are secrets: {@link #toString} never shows them.
 *
 * @param databaseUrl {@code jdbc:sqlite:FILE} (embedded, one server) or {@code jdbc:postgresql://HOST/DB}
 * @param bindAddress where the API listens (default 127.0.0.1)
 * @param port the API's port; 0 picks a free one
 * @param adminToken the bearer token of the admin API (jobs, hosts, VMs); secret
 * @param offlineAfter a host silent this long is offline (default 60 s)
 * @param syncHold the longest a sync is held waiting for a change (default 25 s)
 * @param livenessInterval how often silent hosts are looked for (default 1 s)
 * @param schedulingInterval a pass runs at least this often even without a signal (default 1 s)
 * @param defaultImage the image of a job that names none
 * @param defaultTimeout the deadline of a job that gives none; maxTimeout the longest one may ask
 */
public record ServerConfig(String databaseUrl, String databaseUser, String databasePassword, String bindAddress,
        int port, String adminToken, Duration offlineAfter, Duration syncHold, Duration livenessInterval,
        Duration schedulingInterval, SchedulerConfig scheduler, SizeLabels labels, String defaultImage,
        Duration defaultTimeout, Duration maxTimeout) {

    public static final Duration DEFAULT_OFFLINE_AFTER = Duration.ofSeconds(60);
    public static final Duration DEFAULT_SYNC_HOLD = Duration.ofSeconds(25);
    public static final int DEFAULT_PORT = 7878;
    static final int MIN_TOKEN_LENGTH = 16;

    public ServerConfig {
        requireNonNull(databaseUrl, "databaseUrl is null");
        requireNonNull(bindAddress, "bindAddress is null");
        requireNonNull(offlineAfter, "offlineAfter is null");
        requireNonNull(syncHold, "syncHold is null");
        requireNonNull(livenessInterval, "livenessInterval is null");
        requireNonNull(schedulingInterval, "schedulingInterval is null");
        requireNonNull(scheduler, "scheduler is null");
        requireNonNull(labels, "labels is null");
        requireNonNull(defaultImage, "defaultImage is null");
        requireNonNull(defaultTimeout, "defaultTimeout is null");
        requireNonNull(maxTimeout, "maxTimeout is null");
    }

    public static ServerConfig defaults(String databaseUrl, String adminToken) {
        return new ServerConfig(databaseUrl, null, null, "127.0.0.1", DEFAULT_PORT, adminToken, DEFAULT_OFFLINE_AFTER,
                DEFAULT_SYNC_HOLD, Duration.ofSeconds(1), Duration.ofSeconds(1), SchedulerConfig.defaults(),
                SizeLabels.defaults(), "default", Duration.ofMinutes(60), Duration.ofHours(24));
    }

    public ServerConfig withListen(String address, int newPort) {
        return new ServerConfig(databaseUrl, databaseUser, databasePassword, address, newPort, adminToken, offlineAfter,
                syncHold, livenessInterval, schedulingInterval, scheduler, labels, defaultImage, defaultTimeout,
                maxTimeout);
    }

    public ServerConfig withDatabaseLogin(String user, String password) {
        return new ServerConfig(databaseUrl, user, password, bindAddress, port, adminToken, offlineAfter, syncHold,
                livenessInterval, schedulingInterval, scheduler, labels, defaultImage, defaultTimeout, maxTimeout);
    }

    public ServerConfig withLiveness(Duration newOfflineAfter, Duration interval) {
        return new ServerConfig(databaseUrl, databaseUser, databasePassword, bindAddress, port, adminToken,
                newOfflineAfter, syncHold, interval, schedulingInterval, scheduler, labels, defaultImage,
                defaultTimeout, maxTimeout);
    }

    public ServerConfig withSyncHold(Duration hold) {
        return new ServerConfig(databaseUrl, databaseUser, databasePassword, bindAddress, port, adminToken,
                offlineAfter, hold, livenessInterval, schedulingInterval, scheduler, labels, defaultImage,
                defaultTimeout, maxTimeout);
    }

    public ServerConfig withScheduler(SchedulerConfig newScheduler) {
        return new ServerConfig(databaseUrl, databaseUser, databasePassword, bindAddress, port, adminToken,
                offlineAfter, syncHold, livenessInterval, schedulingInterval, newScheduler, labels, defaultImage,
                defaultTimeout, maxTimeout);
    }

    /** Every problem at once, or nothing. */
    public void check() {
        List<String> problems = new ArrayList<>();
        if (!databaseUrl.startsWith("jdbc:sqlite:") && !databaseUrl.startsWith("jdbc:postgresql:")) {
            problems.add("database URL '" + Database.redact(databaseUrl)
                    + "' must be jdbc:sqlite:FILE or jdbc:postgresql://HOST:PORT/DB");
        }
        if (port < 0 || port > 65535) {
            problems.add("port must be from 0 to 65535, got " + port);
        }
        if (adminToken == null || adminToken.length() < MIN_TOKEN_LENGTH) {
            problems.add("the admin token must be at least " + MIN_TOKEN_LENGTH + " characters"
                    + (adminToken == null ? " (none given)" : ""));
        }
        if (offlineAfter.compareTo(Duration.ofSeconds(1)) < 0) {
            problems.add("offlineAfter must be at least 1 s, got " + offlineAfter);
        }
        if (syncHold.isNegative() || syncHold.compareTo(offlineAfter) >= 0) {
            problems.add("syncHold must be from 0 to less than offlineAfter (" + offlineAfter.toSeconds()
                    + " s), got " + syncHold);
        }
        if (livenessInterval.isNegative() || livenessInterval.isZero()
                || schedulingInterval.isNegative() || schedulingInterval.isZero()) {
            problems.add("livenessInterval and schedulingInterval must be positive");
        }
        if (defaultTimeout.compareTo(maxTimeout) > 0 || defaultTimeout.isZero() || defaultTimeout.isNegative()) {
            problems.add("defaultTimeout must be positive and at most maxTimeout (" + maxTimeout + ")");
        }
        if (!problems.isEmpty()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the server's configuration has "
                    + problems.size() + " problem(s):\n  - " + String.join("\n  - ", problems));
        }
    }

    @Override
    public String toString() {
        return "ServerConfig[database=" + Database.redact(databaseUrl) + ", user=" + databaseUser + ", password="
                + (databasePassword == null ? "none" : "***") + ", listen=" + bindAddress + ":" + port
                + ", adminToken=***, offlineAfter=" + offlineAfter + ", syncHold=" + syncHold + ", scheduler="
                + scheduler + "]";
    }
}
