package dev.kiln.agent.ssh;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.AgentClient;
import dev.kiln.api.SshGatewayInfo;
import dev.kiln.vm.GuestSshEndpoint;
import java.io.BufferedReader;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.sshd.client.SshClient;
import org.apache.sshd.client.channel.ChannelExec;
import org.apache.sshd.client.session.ClientSession;
import org.apache.sshd.common.config.keys.PublicKeyEntry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's end of debugging shells: it holds one SSH connection of its own to the server's SSH gateway (the
 * host never listens), verifies the gateway by the host key the server told it, and for each session the gateway
 * asks for, connects to the VM's sshd over the VM's tap (in the VMs' network namespace, where there is one) and
 * relays the bytes both ways. A VM's end ends its sessions.
 */
public final class SshRelay implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SshRelay.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);
    private static final Duration NO_GATEWAY_RETRY = Duration.ofSeconds(30);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(30);

    private final AgentClient client;
    private final String serverHost;
    private final String hostToken;
    private final Function<String, Optional<GuestSshEndpoint>> endpoints;
    private final Map<String, Set<Closeable>> relays = new ConcurrentHashMap<>();
    private final Object wake = new Object();
    private volatile boolean closed;
    private volatile SshClient ssh;
    /** Whether the gateway can reach this host now (its control channel is open). */
    private volatile boolean connected;
    private Thread thread;

    /**
     * @param server the server the agent syncs with: the gateway listens on the same host name
     * @param endpoints where this host reaches a running VM's sshd
     */
    public SshRelay(AgentClient client, URI server, String hostToken, Function<String, Optional<GuestSshEndpoint>> endpoints) {
        this.client = requireNonNull(client, "client is null");
        this.serverHost = requireNonNull(server, "server is null").getHost();
        this.hostToken = requireNonNull(hostToken, "hostToken is null");
        this.endpoints = requireNonNull(endpoints, "endpoints is null");
    }

    public void start() {
        thread = Thread.ofVirtual().name("kiln-ssh-relay").start(this::loop);
    }

    private void loop() {
        Duration backoff = Duration.ofSeconds(1);
        while (!closed) {
            Duration pause = backoff;
            try {
                SshGatewayInfo gateway = client.sshGateway();
                if (gateway == null) {
                    pause = NO_GATEWAY_RETRY;
                } else {
                    serve(gateway);
                    backoff = Duration.ofSeconds(1);
                    pause = backoff;
                }
            } catch (IOException | RuntimeException e) {
                if (closed) {
                    return;
                }
                log.warn("the SSH gateway at {} is out of reach, again in {} s: {}", serverHost, pause.toSeconds(), e.getMessage());
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
            synchronized (wake) {
                try {
                    if (!closed) {
                        wake.wait(pause.toMillis());
                    }
                } catch (InterruptedException e) {
                    return;
                }
            }
        }
    }

    /** Holds the connection to the gateway and serves its requests until it ends. */
    private void serve(SshGatewayInfo gateway) throws IOException {
        SshClient made = SshClient.setUpDefaultClient();
        made.setServerKeyVerifier((session, address, key) -> PublicKeyEntry.toString(key).equals(gateway.hostKey()));
        made.start();
        ssh = made;
        try (ClientSession session = made.connect("kiln-agent", serverHost, gateway.port()).verify(TIMEOUT).getClientSession()) {
            session.addPasswordIdentity(hostToken);
            session.auth().verify(TIMEOUT);
            try (ChannelExec control = session.createExecChannel("kiln-agent-control")) {
                control.open().verify(TIMEOUT);
                log.info("relaying debugging shells from the SSH gateway at {}:{}", serverHost, gateway.port());
                connected = true;
                BufferedReader requests = new BufferedReader(new InputStreamReader(control.getInvertedOut(), StandardCharsets.US_ASCII));
                for (String line; (line = requests.readLine()) != null; ) {
                    String[] words = line.split(" ");
                    if (words.length == 3 && words[0].equals("open")) {
                        Thread.ofVirtual().name("kiln-ssh-" + words[2]).start(() -> relay(session, words[1], words[2]));
                    }
                }
            }
        } finally {
            connected = false;
            made.stop();
            ssh = null;
        }
    }

    private void relay(ClientSession session, String tunnel, String vm) {
        Optional<GuestSshEndpoint> endpoint = endpoints.apply(vm);
        if (endpoint.isEmpty()) {
            log.info("the SSH gateway asked for VM {}, which runs no sshd here (now)", vm);
            try (ChannelExec refusal = session.createExecChannel("kiln-tunnel-refused " + tunnel + " VM " + vm
                    + " does not run here (now)")) {
                refusal.open().verify(TIMEOUT);
                refusal.waitFor(java.util.EnumSet.of(org.apache.sshd.client.channel.ClientChannelEvent.CLOSED), TIMEOUT);
            } catch (IOException | RuntimeException e) {
                log.warn("cannot tell the SSH gateway that VM {} does not run here: {}", vm, e.getMessage());
            }
            return;
        }
        GuestSshEndpoint at = endpoint.get();
        try {
            VmStream stream = VmStream.open(at, TIMEOUT);
            ChannelExec channel = session.createExecChannel("kiln-tunnel " + tunnel);
            channel.open().verify(TIMEOUT);
            Closeable both = () -> {
                stream.close();
                channel.close(false);
            };
            Set<Closeable> ofVm = relays.computeIfAbsent(vm, v -> ConcurrentHashMap.newKeySet());
            ofVm.add(both);
            if (endpoints.apply(vm).isEmpty()) {
                both.close(); // it ended meanwhile
            }
            Thread up = Thread.ofVirtual().start(() -> pump(stream.in(), channel.getInvertedIn(), both));
            pump(channel.getInvertedOut(), stream.out(), both);
            up.join();
            ofVm.remove(both);
        } catch (IOException | RuntimeException e) {
            log.warn("cannot relay an SSH session to VM {} at {}: {}", vm, at.address(), e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void pump(InputStream in, OutputStream out, Closeable both) {
        byte[] buffer = new byte[32 << 10];
        try {
            for (int n; (n = in.read(buffer)) >= 0; ) {
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException e) {
            // The other side ended it.
        } finally {
            try {
                both.close();
            } catch (IOException e) {
                // Closing.
            }
        }
    }

    boolean connected() {
        return connected;
    }

    /** The VM ended: its sessions end with it (its address stops answering, so nothing else would end them). */
    public void vmEnded(String vm) {
        Set<Closeable> ofVm = relays.remove(vm);
        if (ofVm != null) {
            for (Closeable relay : List.copyOf(ofVm)) {
                try {
                    relay.close();
                } catch (IOException e) {
                    // Closing.
                }
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        synchronized (wake) {
            wake.notifyAll();
        }
        List.copyOf(relays.keySet()).forEach(this::vmEnded);
        SshClient current = ssh;
        if (current != null) {
            current.stop();
        }
        if (thread != null) {
            try {
                thread.join(TIMEOUT.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A byte stream to a VM's sshd: a socket in the host's namespace, else socat in the VMs' namespace. */
    private record VmStream(InputStream in, OutputStream out, Closeable closer) implements Closeable {
        static VmStream open(GuestSshEndpoint at, Duration timeout) throws IOException {
            if (at.netns() == null) {
                Socket socket = new Socket();
                socket.connect(new InetSocketAddress(at.address(), at.port()), (int) timeout.toMillis());
                socket.setTcpNoDelay(true);
                return new VmStream(socket.getInputStream(), socket.getOutputStream(), socket);
            }
            // A thread cannot enter a network namespace on its own; a relay process in it carries the bytes.
            Process process = new ProcessBuilder("ip", "netns", "exec", at.netns(), "socat", "-",
                    "TCP:" + at.address() + ":" + at.port() + ",connect-timeout=" + timeout.toSeconds() + ",nodelay")
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            return new VmStream(process.getInputStream(), process.getOutputStream(), () -> {
                process.destroy();
                try {
                    process.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }

        @Override
        public void close() throws IOException {
            closer.close();
        }
    }
}
