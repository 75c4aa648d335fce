package dev.kiln.server.ssh;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.sshd.client.future.DefaultOpenFuture;
import org.apache.sshd.client.future.OpenFuture;
import org.apache.sshd.common.SshConstants;
import org.apache.sshd.common.channel.ChannelOutputStream;
import org.apache.sshd.common.channel.ChannelPipedInputStream;
import org.apache.sshd.common.channel.exception.SshChannelOpenException;
import org.apache.sshd.common.session.Session;
import org.apache.sshd.common.util.buffer.Buffer;
import org.apache.sshd.common.util.threads.ThreadUtils;
import org.apache.sshd.server.channel.AbstractServerChannel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A user's {@code direct-tcpip} channel (what {@code ssh -J} and {@code ssh -W} open) to {@code JOB:22}: instead of
 * a socket from the gateway, a stream through the job's host's agent to its VM's sshd. The user's own SSH session
 * runs end to end inside it, with the VM's host key checked by the user's client.
 */
final class JobChannel extends AbstractServerChannel {
    private static final Logger log = LoggerFactory.getLogger(JobChannel.class);
    static final Duration AGENT_ANSWER = Duration.ofSeconds(30);

    private final SshDirectory directory;
    private final AgentLinks links;
    private final Clock clock;
    private final AtomicBoolean ended = new AtomicBoolean();
    private ChannelPipedInputStream fromUser;
    private volatile AgentLinks.Tunnel tunnel;
    private volatile String sessionId;

    JobChannel(SshDirectory directory, AgentLinks links, Clock clock) {
        super("", java.util.List.of(), ThreadUtils.noClose(null));
        this.directory = directory;
        this.links = links;
        this.clock = clock;
    }

    @Override
    protected OpenFuture doInit(Buffer buffer) {
        String target = buffer.getString();
        int port = buffer.getInt();
        OpenFuture opened = new DefaultOpenFuture(this, this);
        Session session = getSession();
        String typed = session.getUsername();
        String fingerprint = session.getAttribute(SshGateway.USER_KEY);
        if (fingerprint == null) {
            return refuse(opened, SshConstants.SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, "only users reach jobs");
        }
        String job = target.startsWith("job-") ? target.substring(4) : target;
        if (port != 22) {
            return refuse(opened, SshConstants.SSH_OPEN_ADMINISTRATIVELY_PROHIBITED,
                    "the gateway reaches a job's sshd on port 22 only, not " + port);
        }
        Optional<SshDirectory.Target> found = directory.runningJob(job);
        if (found.isEmpty()) {
            log.info("SSH user {} ({}) asked for job {}: not a running job with a debugging shell", typed, fingerprint, job);
            return refuse(opened, SshConstants.SSH_OPEN_CONNECT_FAILED, "no running job " + job + " with a debugging shell");
        }
        SshDirectory.Target at = found.get();
        String granted = session.getAttribute(SshGateway.GRANTED_KEY);
        Optional<SshDirectory.Grant> grant = granted == null ? Optional.empty() : at.grantOf(granted);
        if (granted != null && grant.isEmpty()) {
            log.warn("SSH user {} ({}) asked for job {}, which does not grant that key: refused", typed, fingerprint, job);
            return refuse(opened, SshConstants.SSH_OPEN_ADMINISTRATIVELY_PROHIBITED,
                    "key " + fingerprint + " may not reach job " + job);
        }
        // An admin as the name typed; anyone else as whose the key is.
        String user = grant.map(SshDirectory.Grant::who).orElse(typed);
        fromUser = new ChannelPipedInputStream(this, getLocalWindow());
        java.net.SocketAddress client = session.getIoSession().getRemoteAddress();
        String remote = client instanceof InetSocketAddress address
                ? address.getAddress().getHostAddress() + ":" + address.getPort() : String.valueOf(client);
        links.open(at.host(), at.vm(), AGENT_ANSWER).whenComplete((opening, failure) -> {
            if (failure != null) {
                log.warn("SSH user {} could not reach job {} on host {}: {}", user, job, at.host(), failure.getMessage());
                refuse(opened, SshConstants.SSH_OPEN_CONNECT_FAILED, "cannot reach job " + job + " on host " + at.host()
                        + ": " + failure.getMessage());
                return;
            }
            tunnel = opening;
            sessionId = UUID.randomUUID().toString();
            directory.sessionStarted(new SshDirectory.Session(sessionId, job, at.vm(), user, fingerprint, remote,
                    clock.millis()));
            log.info("SSH session {}: user {} ({}) from {} to job {} (VM {} on {})", sessionId, user, fingerprint, remote,
                    job, at.vm(), at.host());
            // Confirmed first: the VM's sshd speaks at once (its banner), and data on a channel the client has not
            // yet seen confirmed is lost.
            // MINA sends the confirmation when told of the success (the future alone sends nothing).
            signalChannelOpenSuccess();
            opened.setOpened();
            OutputStream toUser = new ChannelOutputStream(this, getRemoteWindow(), log, SshConstants.SSH_MSG_CHANNEL_DATA, true);
            Thread.ofVirtual().name("kiln-ssh-to-vm").start(() -> pump(fromUser, opening.toVm(), "user"));
            Thread.ofVirtual().name("kiln-ssh-to-user").start(() -> pump(opening.fromVm(), toUser, "VM"));
        });
        return opened;
    }

    private OpenFuture refuse(OpenFuture opened, int reason, String message) {
        opened.setException(new SshChannelOpenException(getChannelId(), reason, message));
        close(true);
        return opened;
    }

    private void pump(InputStream in, OutputStream out, String from) {
        byte[] buffer = new byte[32 << 10];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, n);
                out.flush();
            }
            end("the " + from + " closed it");
        } catch (IOException e) {
            end("the " + from + " side failed: " + e.getMessage());
        }
    }

    /** Either side's end ends both: the session is over. */
    private void end(String reason) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        AgentLinks.Tunnel t = tunnel;
        if (t != null) {
            t.close().run();
        }
        if (sessionId != null) {
            directory.sessionEnded(sessionId, clock.millis(), reason);
            log.info("SSH session {} ended: {}", sessionId, reason);
        }
        close(false);
    }

    @Override
    protected void doWriteData(byte[] data, int off, long len) throws IOException {
        fromUser.receive(data, off, (int) len);
    }

    @Override
    protected void doWriteExtendedData(byte[] data, int off, long len) throws IOException {
        throw new UnsupportedOperationException("a direct-tcpip channel carries no extended data");
    }

    @Override
    public void handleEof() throws IOException {
        super.handleEof();
        fromUser.eof();
    }

    @Override
    protected void preClose() {
        end("the channel closed");
        super.preClose();
    }
}
