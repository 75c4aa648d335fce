package dev.kiln.agent;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * How an agent talks to its server.
 *
 * @param server the server's base URL
 * @param hostToken the lasting token from enrolment (secret; never printed)
 * @param hold how long the server may hold a sync (default 25 s)
 * @param maxBackoff the longest wait between retries while the server is unreachable
 * @param replicas other replicas of the same server (one database), tried in turn when one is unreachable
 */
public record AgentConfig(URI server, String hostToken, Duration hold, Duration maxBackoff, List<URI> replicas) {
    public static final Duration DEFAULT_HOLD = Duration.ofSeconds(25);
    public static final String VERSION = "kiln-agent 0.1.0";

    public AgentConfig(URI server, String hostToken, Duration hold, Duration maxBackoff) {
        this(server, hostToken, hold, maxBackoff, List.of());
    }

    public AgentConfig {
        replicas = List.copyOf(replicas);
        requireNonNull(server, "server is null");
        requireNonNull(hostToken, "hostToken is null");
        requireNonNull(hold, "hold is null");
        requireNonNull(maxBackoff, "maxBackoff is null");
    }

    public static AgentConfig of(URI server, String hostToken) {
        return new AgentConfig(server, hostToken, DEFAULT_HOLD, Duration.ofSeconds(5));
    }

    /** Every replica, the enrolled-with server first. */
    public List<URI> servers() {
        List<URI> all = new java.util.ArrayList<>(List.of(server));
        replicas.stream().filter(uri -> !uri.equals(server)).forEach(all::add);
        return all;
    }

    public AgentConfig withReplicas(List<URI> others) {
        return new AgentConfig(server, hostToken, hold, maxBackoff, others);
    }

    @Override
    public String toString() {
        return "AgentConfig[server=" + server + ", replicas=" + replicas + ", hostToken=***, hold=" + hold
                + ", maxBackoff=" + maxBackoff + "]";
    }
}
