package dev.kiln.server.ssh;

import java.util.Optional;

/** What the SSH gateway asks the control plane's store. */
public interface SshDirectory {
    /** A job whose VM runs now with a debugging shell: where it runs and the host key its sshd answers with. */
    record Target(String job, String vm, String host, String hostKey) {}

    /** One debugging session, as recorded. */
    record Session(String id, String job, String vm, String user, String keyFingerprint, String remoteAddress,
            long startedAt) {}

    /** The host whose agent holds this host token, if any. */
    Optional<String> hostOfToken(String token);

    /** The running job {@code job} with an sshd, or empty (unknown, not running, no debugging shell). */
    Optional<Target> runningJob(String job);

    void sessionStarted(Session session);

    void sessionEnded(String sessionId, long endedAt, String reason);
}
