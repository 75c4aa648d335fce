package dev.kiln.api;

import com.fasterxml.jackson.core.type.TypeReference;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/** What an agent asks its server, with the host token it got at enrolment. Thread-safe. */
public final class AgentClient {
    private final HttpApi api;

    public AgentClient(URI server, String hostToken) {
        this.api = new HttpApi(server, hostToken);
    }

    /** Exchanges a one-time enrolment token for the host's lasting token. */
    public static EnrolAnswer enrol(URI server, String enrolmentToken) {
        return new HttpApi(server, null).post("/api/v1/agent/enrol", new EnrolRequest(enrolmentToken),
                new TypeReference<EnrolAnswer>() {});
    }

    public URI server() {
        return api.server();
    }

    /**
     * Posts the report and answers what should exist. With a {@code hold} the server waits up to that
     * long for the answer to differ from the report's {@code desiredVersion}.
     */
    public SyncAnswer sync(AgentReport report, Duration hold) {
        return api.post("/api/v1/agent/sync?holdMs=" + hold.toMillis(), report, hold.plus(HttpApi.REQUEST_TIMEOUT),
                new TypeReference<SyncAnswer>() {}, true);
    }

    public void uploadLogs(List<LogChunk> chunks) {
        api.post("/api/v1/agent/logs", chunks, HttpApi.REQUEST_TIMEOUT, null, true);
    }
}
