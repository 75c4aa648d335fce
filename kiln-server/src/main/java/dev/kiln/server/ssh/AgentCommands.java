package dev.kiln.server.ssh;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import org.apache.sshd.server.Environment;
import org.apache.sshd.server.ExitCallback;
import org.apache.sshd.server.channel.ChannelSession;
import org.apache.sshd.server.command.Command;
import org.apache.sshd.server.command.CommandFactory;

/**
 * The commands of a session channel: an agent's {@code kiln-agent-control} and {@code kiln-tunnel ID}; anyone else
 * is told how to reach a job (the gateway has no shell of its own).
 */
final class AgentCommands implements CommandFactory {
    static final String CONTROL = "kiln-agent-control";
    static final String TUNNEL = "kiln-tunnel ";
    static final String REFUSED = "kiln-tunnel-refused ";
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(AgentCommands.class);

    private final AgentLinks links;

    AgentCommands(AgentLinks links) {
        this.links = links;
    }

    @Override
    public Command createCommand(ChannelSession channel, String command) {
        String host = channel.getSession().getAttribute(SshGateway.AGENT_HOST);
        if (host != null && command.equals(CONTROL)) {
            return new Streams() {
                @Override
                void run() throws IOException {
                    links.controlOpened(host, out);
                    try {
                        // The agent sends nothing on it: its end is the connection's.
                        while (in.read() >= 0) {
                            // Discard.
                        }
                    } finally {
                        links.controlClosed(host, out);
                    }
                }
            };
        }
        if (host != null && command.startsWith(TUNNEL)) {
            String id = command.substring(TUNNEL.length());
            return new Streams() {
                @Override
                void run() throws Exception {
                    CountDownLatch closed = new CountDownLatch(1);
                    if (links.answered(host, id, new AgentLinks.Tunnel(in, out, closed::countDown))) {
                        closed.await();
                    }
                }
            };
        }
        if (host != null && command.startsWith(REFUSED)) {
            String[] words = command.substring(REFUSED.length()).split(" ", 2);
            return new Streams() {
                @Override
                void run() {
                    links.refused(host, words[0], words.length > 1 ? words[1] : "no reason given");
                }
            };
        }
        return new Streams() {
            @Override
            void run() throws IOException {
                err.write(("kiln: this is Kiln's SSH gateway, which opens no shell: reach a running job with"
                        + " `kiln ssh JOB`, or `ssh -J USER@GATEWAY runner@JOB`\n").getBytes(StandardCharsets.UTF_8));
                err.flush();
                status = 1;
            }
        };
    }

    /** A command run on a virtual thread of its own, with the channel's streams. */
    private abstract static class Streams implements Command {
        InputStream in;
        OutputStream out;
        OutputStream err;
        int status;
        private ExitCallback exit;
        private Thread thread;

        abstract void run() throws Exception;

        @Override
        public void setInputStream(InputStream stream) {
            in = stream;
        }

        @Override
        public void setOutputStream(OutputStream stream) {
            out = stream;
        }

        @Override
        public void setErrorStream(OutputStream stream) {
            err = stream;
        }

        @Override
        public void setExitCallback(ExitCallback callback) {
            exit = callback;
        }

        @Override
        public void start(ChannelSession channel, Environment env) {
            thread = Thread.ofVirtual().name("kiln-ssh-command").start(() -> {
                try {
                    run();
                } catch (java.io.InterruptedIOException | InterruptedException e) {
                    status = 1; // its channel closed (destroy)
                } catch (Exception e) {
                    log.warn("SSH gateway command failed: {}", e.toString());
                    status = 1;
                } finally {
                    exit.onExit(status);
                }
            });
        }

        @Override
        public void destroy(ChannelSession channel) {
            if (thread != null) {
                thread.interrupt();
            }
        }
    }
}
