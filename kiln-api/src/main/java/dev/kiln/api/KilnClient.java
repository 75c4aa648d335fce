package dev.kiln.api;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.JobState;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/** What the CLI (and anyone with the admin token) asks a Kiln server. Thread-safe. */
public final class KilnClient {
    private final HttpApi api;

    public KilnClient(URI server, String adminToken) {
        this.api = new HttpApi(server, adminToken);
    }

    public URI server() {
        return api.server();
    }

    public JobView submit(JobRequest request) {
        return api.post("/api/v1/jobs", request, new TypeReference<JobView>() {});
    }

    /** Jobs newest first, optionally of one state. */
    public List<JobView> jobs(JobState state, int limit) {
        String query = "?limit=" + limit + (state == null ? "" : "&state=" + state);
        return api.get("/api/v1/jobs" + query, new TypeReference<List<JobView>>() {});
    }

    /** One job with its timeline. */
    public JobView job(String id) {
        return api.get("/api/v1/jobs/" + HttpApi.encode(id), new TypeReference<JobView>() {});
    }

    /** Waits up to {@code wait} for the job to leave the given state (long poll); answers the job. */
    public JobView awaitChange(String id, JobState from, Duration wait) {
        return api.get("/api/v1/jobs/" + HttpApi.encode(id) + "?changedFrom=" + from + "&waitMs=" + wait.toMillis(),
                wait.plus(HttpApi.REQUEST_TIMEOUT), new TypeReference<JobView>() {});
    }

    public JobView cancel(String id) {
        return api.post("/api/v1/jobs/" + HttpApi.encode(id) + "/cancel", null, new TypeReference<JobView>() {});
    }

    /** The job's debugging shell: its VM's host key, the gateway's, and every session so far. */
    public JobSsh jobSsh(String id) {
        return api.get("/api/v1/jobs/" + HttpApi.encode(id) + "/ssh", new TypeReference<JobSsh>() {});
    }

    /** The job's output from a cursor on, waiting up to {@code wait} for more when there is none yet. */
    public LogPage logs(String id, long after, Duration wait) {
        return api.get("/api/v1/jobs/" + HttpApi.encode(id) + "/logs?after=" + after + "&waitMs=" + wait.toMillis(),
                wait.plus(HttpApi.REQUEST_TIMEOUT), new TypeReference<LogPage>() {});
    }

    public List<HostView> hosts() {
        return api.get("/api/v1/hosts", new TypeReference<List<HostView>>() {});
    }

    public HostEnrolment addHost(String name) {
        return api.post("/api/v1/hosts", new AddHost(name), new TypeReference<HostEnrolment>() {});
    }

    public HostView drainHost(String name) {
        return api.post("/api/v1/hosts/" + HttpApi.encode(name) + "/drain", null, new TypeReference<HostView>() {});
    }

    public HostView resumeHost(String name) {
        return api.post("/api/v1/hosts/" + HttpApi.encode(name) + "/resume", null, new TypeReference<HostView>() {});
    }

    public void removeHost(String name) {
        api.delete("/api/v1/hosts/" + HttpApi.encode(name), null);
    }

    public List<VmView> vms() {
        return api.get("/api/v1/vms", new TypeReference<List<VmView>>() {});
    }

    /** Makes a read-only dashboard token; the answer is the only time it is shown. */
    public ViewerToken.Created createViewerToken(String name) {
        return api.post("/api/v1/viewer-tokens", new ViewerToken.Create(name), new TypeReference<ViewerToken.Created>() {});
    }

    public List<ViewerToken> viewerTokens() {
        return api.get("/api/v1/viewer-tokens", new TypeReference<List<ViewerToken>>() {});
    }

    /** Revokes a viewer token; the dashboard sessions it opened end. */
    public void revokeViewerToken(String name) {
        api.delete("/api/v1/viewer-tokens/" + HttpApi.encode(name), null);
    }

    /** The body of {@code POST /api/v1/hosts}. */
    public record AddHost(String name) {}
}
