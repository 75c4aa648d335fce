package dev.kiln.server.ssh;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The agents' own connections to the gateway: each agent holds one SSH connection it opened (its host never
 * listens) and runs {@code kiln-agent-control} on it, to which the gateway writes one line per session to relay
 * ({@code open TUNNEL VM}); the agent answers by running {@code kiln-tunnel TUNNEL} on the same connection, whose
 * streams become the session's bytes to and from the VM's sshd.
 */
final class AgentLinks {
    /** A relayed stream to a VM's sshd: bytes to it go to {@code toVm}, bytes from it come from {@code fromVm}. */
    record Tunnel(InputStream fromVm, OutputStream toVm, Runnable close) {}

    private record Pending(String host, CompletableFuture<Tunnel> tunnel) {}

    private final Map<String, OutputStream> controls = new ConcurrentHashMap<>();
    private final Map<String, Pending> pending = new ConcurrentHashMap<>();

    void controlOpened(String host, OutputStream control) {
        controls.put(host, control);
    }

    void controlClosed(String host, OutputStream control) {
        controls.remove(host, control);
    }

    /** Asks the host's agent for a stream to its VM's sshd; fails when the agent is not connected or does not answer. */
    CompletableFuture<Tunnel> open(String host, String vm, Duration timeout) {
        OutputStream control = controls.get(host);
        if (control == null) {
            return CompletableFuture.failedFuture(new KilnException(ErrorCode.UNAVAILABLE,
                    "the agent of host " + host + " has no connection to the SSH gateway (is it running this version?)"));
        }
        String id = UUID.randomUUID().toString();
        CompletableFuture<Tunnel> tunnel = new CompletableFuture<Tunnel>().orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
        pending.put(id, new Pending(host, tunnel));
        tunnel.whenComplete((t, e) -> pending.remove(id));
        try {
            synchronized (control) {
                control.write(("open " + id + " " + vm + "\n").getBytes(StandardCharsets.US_ASCII));
                control.flush();
            }
        } catch (IOException e) {
            controls.remove(host, control);
            tunnel.completeExceptionally(new KilnException(ErrorCode.UNAVAILABLE,
                    "lost the connection to the agent of host " + host + ": " + e.getMessage(), e));
        }
        return tunnel;
    }

    /** The agent of {@code host} cannot open tunnel {@code id} (its VM ended, say), for this reason. */
    void refused(String host, String id, String reason) {
        Pending waiting = pending.get(id);
        if (waiting != null && waiting.host().equals(host)) {
            waiting.tunnel().completeExceptionally(new KilnException(ErrorCode.CONFLICT,
                    "the agent of host " + host + " refused: " + reason));
        }
    }

    /** The agent of {@code host} answered tunnel {@code id}; false when no such tunnel waits for that host. */
    boolean answered(String host, String id, Tunnel tunnel) {
        Pending waiting = pending.get(id);
        if (waiting == null || !waiting.host().equals(host)) {
            return false;
        }
        return waiting.tunnel().complete(tunnel);
    }
}
