package dev.kiln.server.ssh;

import java.util.List;
import java.util.Optional;

/** What the SSH gateway asks the control plane's store. */
public interface SshDirectory {
    /**
     * A job whose VM runs now with a debugging shell: where it runs, the host key its sshd answers with, and who
     * besides the admins may reach it.
     */
    record Target(String job, String vm, String host, String hostKey, List<Grant> grants) {
        public Target {
            grants = List.copyOf(grants);
        }

        /** A job only the admins may reach. */
        public Target(String job, String vm, String host, String hostKey) {
            this(job, vm, host, hostKey, List.of());
        }

        /** The grant of {@code key} ({@code TYPE BASE64}), if this job has one. */
        public Optional<Grant> grantOf(String key) {
            return grants.stream().filter(g -> g.key().equals(key)).findFirst();
        }
    }

    /**
     * A public key ({@code TYPE BASE64}, no comment) that may reach one job, and whose it is, as sessions record it
     * (a GitHub login, or the organisation whose operator configured the key).
     */
    record Grant(String who, String key) {
        /** The grant of an authorized_keys line (its options are not supported, its comment is dropped). */
        public static Grant of(String who, String line) {
            String[] fields = line.strip().split("\\s+");
            return new Grant(who, fields.length < 2 ? line.strip() : fields[0] + " " + fields[1]);
        }
    }

    /** One debugging session, as recorded. */
    record Session(String id, String job, String vm, String user, String keyFingerprint, String remoteAddress,
            long startedAt) {}

    /** The host whose agent holds this host token, if any. */
    Optional<String> hostOfToken(String token);

    /** The running job {@code job} with an sshd, or empty (unknown, not running, no debugging shell). */
    Optional<Target> runningJob(String job);

    /** Whether some running job grants {@code key} ({@code TYPE BASE64}): a user who is no admin may log in then. */
    default boolean anyJobGrants(String key) {
        return false;
    }

    void sessionStarted(Session session);

    void sessionEnded(String sessionId, long endedAt, String reason);
}
