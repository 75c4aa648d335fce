package dev.kiln.api;

import com.fasterxml.jackson.core.type.TypeReference;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * What an agent asks its server, with the host token it got at enrolment. Given several replicas
 * (one database behind them), a call that cannot reach one moves the next call to the next replica,
 * so an agent keeps its host alive while any replica lives. Thread-safe.
 */
public final class AgentClient {
    private final List<HttpApi> replicas;
    private final java.util.concurrent.atomic.AtomicInteger current = new java.util.concurrent.atomic.AtomicInteger();

    public AgentClient(URI server, String hostToken) {
        this(List.of(server), hostToken);
    }

    public AgentClient(List<URI> servers, String hostToken) {
        if (servers.isEmpty()) {
            throw new IllegalArgumentException("an agent needs at least one server URL");
        }
        this.replicas = servers.stream().map(server -> new HttpApi(server, hostToken)).toList();
    }

    private <T> T call(java.util.function.Function<HttpApi, T> request) {
        int index = current.get();
        try {
            return request.apply(replicas.get(index));
        } catch (dev.kiln.core.KilnException e) {
            if (e.code() == dev.kiln.core.ErrorCode.UNAVAILABLE && replicas.size() > 1) {
                current.compareAndSet(index, (index + 1) % replicas.size());
            }
            throw e;
        }
    }

    /** Exchanges a one-time enrolment token for the host's lasting token. */
    public static EnrolAnswer enrol(URI server, String enrolmentToken) {
        return new HttpApi(server, null).post("/api/v1/agent/enrol", new EnrolRequest(enrolmentToken),
                new TypeReference<EnrolAnswer>() {});
    }

    /** The replica the next call goes to. */
    public URI server() {
        return replicas.get(current.get()).server();
    }

    /**
     * Posts the report and answers what should exist. With a {@code hold} the server waits up to that
     * long for the answer to differ from the report's {@code desiredVersion}.
     */
    public SyncAnswer sync(AgentReport report, Duration hold) {
        return call(api -> api.post("/api/v1/agent/sync?holdMs=" + hold.toMillis(), report,
                hold.plus(HttpApi.REQUEST_TIMEOUT), new TypeReference<SyncAnswer>() {}));
    }

    /** The server's SSH gateway, or null when the server runs none. */
    public SshGatewayInfo sshGateway() {
        try {
            return call(api -> api.get("/api/v1/agent/ssh", new TypeReference<SshGatewayInfo>() {}));
        } catch (dev.kiln.core.KilnException e) {
            if (e.code() == dev.kiln.core.ErrorCode.NOT_FOUND) {
                return null;
            }
            throw e;
        }
    }

    public void uploadLogs(List<LogChunk> chunks) {
        call(api -> api.post("/api/v1/agent/logs", chunks, HttpApi.REQUEST_TIMEOUT, null));
    }
}
