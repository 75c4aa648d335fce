package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.SshSessionView;
import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.server.ssh.SshDirectory;
import java.util.List;
import java.util.Optional;

/** The SSH gateway's view of the store: agents by token, running jobs with a debugging shell, the sessions' record. */
final class SshStore implements SshDirectory {
    private final Database db;
    private final HostStore hosts;
    private final OrgKeys orgKeys;

    SshStore(Database db, HostStore hosts, OrgKeys orgKeys) {
        this.db = requireNonNull(db, "db is null");
        this.hosts = requireNonNull(hosts, "hosts is null");
        this.orgKeys = requireNonNull(orgKeys, "orgKeys is null");
    }

    @Override
    public Optional<String> hostOfToken(String token) {
        try {
            return Optional.of(hosts.authenticate(token));
        } catch (KilnException e) {
            return Optional.empty();
        }
    }

    private static final String RUNNING = "SELECT j.id, j.org, v.id AS vm, v.host, v.ssh_host_key, v.ssh_user, v.ssh_user_keys"
            + " FROM jobs j JOIN vms v ON v.job_id = j.id WHERE j.state = ? AND v.state = ? AND v.ssh_host_key IS NOT NULL";

    @Override
    public Optional<Target> runningJob(String job) {
        return db.read(tx -> tx.queryOne(RUNNING + " AND j.id = ?", this::target, JobState.RUNNING.name(),
                VmState.RUNNING.name(), job));
    }

    @Override
    public boolean anyJobGrants(String key) {
        return db.read(tx -> tx.query(RUNNING, this::target, JobState.RUNNING.name(), VmState.RUNNING.name())).stream()
                .anyMatch(target -> target.grantOf(key).isPresent());
    }

    /** A running job and who may reach it besides the admins: its own user's keys, then its organisation's. */
    private Target target(java.sql.ResultSet row) throws java.sql.SQLException {
        List<Grant> grants = new java.util.ArrayList<>();
        String user = row.getString("ssh_user");
        DebugAccess.keys(row.getString("ssh_user_keys")).forEach(key -> grants.add(Grant.of(user, key)));
        String org = row.getString("org");
        orgKeys.of(org).forEach(key -> grants.add(Grant.of("a key of organisation " + org, key)));
        return new Target(row.getString("id"), row.getString("vm"), row.getString("host"), row.getString("ssh_host_key"),
                grants);
    }

    @Override
    public void sessionStarted(Session s) {
        db.tx(tx -> tx.update("INSERT INTO ssh_sessions (id, job_id, vm_id, user_name, key_fingerprint, remote_address,"
                + " started_at) VALUES (?, ?, ?, ?, ?, ?, ?)", s.id(), s.job(), s.vm(), s.user(), s.keyFingerprint(),
                s.remoteAddress(), s.startedAt()));
    }

    @Override
    public void sessionEnded(String sessionId, long endedAt, String reason) {
        db.tx(tx -> tx.update("UPDATE ssh_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL",
                endedAt, reason, sessionId));
    }

    /** The VM's host key of a job (null while none is known), for `kiln ssh` to verify the VM. */
    Optional<String> hostKeyOfJob(String job) {
        return db.read(tx -> tx.queryOne("SELECT ssh_host_key FROM vms WHERE job_id = ? AND ssh_host_key IS NOT NULL"
                + " ORDER BY created_at DESC", row -> row.getString(1), job));
    }

    /** Every session into a job, oldest first. */
    List<SshSessionView> sessions(String job) {
        return db.read(tx -> tx.query("SELECT id, vm_id, user_name, key_fingerprint, remote_address, started_at, ended_at,"
                        + " end_reason FROM ssh_sessions WHERE job_id = ? ORDER BY started_at, id",
                row -> new SshSessionView(row.getString("id"), job, row.getString("vm_id"), row.getString("user_name"),
                        row.getString("key_fingerprint"), row.getString("remote_address"),
                        java.time.Instant.ofEpochMilli(row.getLong("started_at")).toString(),
                        row.getObject("ended_at") == null ? null
                                : java.time.Instant.ofEpochMilli(row.getLong("ended_at")).toString(),
                        row.getString("end_reason")), job));
    }
}
