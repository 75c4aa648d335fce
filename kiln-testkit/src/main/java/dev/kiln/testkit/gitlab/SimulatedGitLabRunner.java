package dev.kiln.testkit.gitlab;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.github.RunnerGuest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * A GitLab runner VM's guest for simulated hosts (a {@link RunnerGuest} given the VM's runner credential): what {@code gitlab-runner run-single --max-builds 1} does with the
 * credential on its config drive ({@code {"kind": "gitlab-runner", "url", "token"}}), against FakeGitLab's runner API:
 * it asks for a job until it gets one (204 meanwhile), appends a trace, reports success and exits 0; a token GitLab
 * no longer knows (403, the runner deleted) also ends it.
 */
public final class SimulatedGitLabRunner implements RunnerGuest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HttpClient http = HttpClient.newHttpClient();

    @Override
    public int run(String runnerCredential) throws Exception {
        JsonNode credential = JSON.readTree(runnerCredential);
        String url = credential.get("url").asText();
        String token = credential.get("token").asText();
        while (true) {
            HttpResponse<String> answer = send(url, "POST", "/jobs/request", "{\"token\": \"" + token + "\"}", null);
            if (answer.statusCode() == 403) {
                return 0;
            }
            if (answer.statusCode() == 201) {
                JsonNode job = JSON.readTree(answer.body());
                long id = job.get("id").asLong();
                String jobToken = job.get("token").asText();
                String trace = "simulated runner ran job " + id + "\n";
                send(url, "PATCH", "/jobs/" + id + "/trace", trace, jobToken);
                send(url, "PUT", "/jobs/" + id, "{\"token\": \"" + jobToken + "\", \"state\": \"success\", \"exit_code\": 0}", null);
                return 0;
            }
            Thread.sleep(50);
        }
    }

    private HttpResponse<String> send(String url, String method, String path, String body, String jobToken) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + "/api/v4" + path))
                .method(method, HttpRequest.BodyPublishers.ofString(body));
        if (jobToken != null) {
            request.header("JOB-TOKEN", jobToken).header("Content-Range", "0-" + (body.length() - 1)).header("Content-Type", "text/plain");
        } else {
            request.header("Content-Type", "application/json");
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
