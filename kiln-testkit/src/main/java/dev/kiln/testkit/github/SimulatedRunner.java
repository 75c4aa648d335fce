package dev.kiln.testkit.github;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Base64;
import java.util.concurrent.CountDownLatch;

/**
 * A runner VM's guest for simulated hosts: what the stand-in runner does with its JIT config, against the
 * fake GitHub's runner API: it connects, claims one queued job whose labels it carries, reports it started
 * and completed (exit 0), and exits 0; it also exits 0 once its registration is deleted (as the real
 * runner does on "The runner no longer exists on the server"). An idle runner connects but never claims.
 */
public final class SimulatedRunner implements RunnerGuest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();
    private final boolean claims;
    private final CountDownLatch finish;

    private SimulatedRunner(boolean claims, CountDownLatch finish) {
        this.claims = claims;
        this.finish = finish;
    }

    public static SimulatedRunner claiming() {
        return new SimulatedRunner(true, new CountDownLatch(0));
    }

    /** A claiming runner that reports its job completed only once {@code finish} is counted down. */
    public static SimulatedRunner claimingUntil(CountDownLatch finish) {
        return new SimulatedRunner(true, finish);
    }

    public static SimulatedRunner idle() {
        return new SimulatedRunner(false, new CountDownLatch(0));
    }

    /** Where the runner is registered, from its JIT config: {@code owner} or {@code owner/repo}. */
    public static String scope(String jitConfig) throws java.io.IOException {
        return URI.create(runnerSettings(jitConfig).get("gitHubUrl").asText()).getPath().substring(1);
    }

    /** The {@code .runner} file the JIT config carries. */
    private static JsonNode runnerSettings(String jitConfig) throws java.io.IOException {
        Base64.Decoder b64 = Base64.getDecoder();
        JsonNode files = JSON.readTree(b64.decode(jitConfig));
        return JSON.readTree(b64.decode(files.get(".runner").asText()));
    }

    @Override
    public int run(String jitConfig) throws Exception {
        Base64.Decoder b64 = Base64.getDecoder();
        JsonNode files = JSON.readTree(b64.decode(jitConfig));
        JsonNode runner = runnerSettings(jitConfig);
        String token = JSON.readTree(b64.decode(files.get(".credentials").asText())).path("data").path("token").asText();
        String server = runner.get("serverUrl").asText().replaceFirst("/$", "");
        if (call(server, token, "GET", "/_apis/connectionData").statusCode() != 200) {
            return 0;
        }
        while (true) {
            HttpResponse<String> claim = claims ? call(server, token, "POST", "/_apis/kiln/jobs/acquire")
                    : call(server, token, "GET", "/_apis/connectionData");
            if (claim.statusCode() == 401) {
                return 0; // deleted: the runner no longer exists on the server
            }
            if (claims && claim.statusCode() == 200) {
                long job = JSON.readTree(claim.body()).get("jobId").asLong();
                call(server, token, "POST", "/_apis/kiln/jobs/" + job + "/started");
                finish.await();
                call(server, token, "POST", "/_apis/kiln/jobs/" + job + "/completed", "{\"exitCode\": 0, \"output\": \"ok\"}");
                return 0;
            }
            Thread.sleep(50);
        }
    }

    private HttpResponse<String> call(String server, String token, String method, String path) throws Exception {
        return call(server, token, method, path, "{}");
    }

    private HttpResponse<String> call(String server, String token, String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server + path)).header("Authorization", "Bearer " + token);
        request = method.equals("GET") ? request.GET() : request.POST(HttpRequest.BodyPublishers.ofString(body));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
