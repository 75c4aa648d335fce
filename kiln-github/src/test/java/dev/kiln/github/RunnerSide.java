package dev.kiln.github;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Base64;

/** What a runner does with its JIT config, done from Java for tests that need a busy runner. */
final class RunnerSide {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RunnerSide() {}

    /** Decodes the JIT config, connects and claims a job; returns the claim's answer. */
    static JsonNode claim(HttpClient http, String encodedJitConfig) throws IOException, InterruptedException {
        Base64.Decoder b64 = Base64.getDecoder();
        JsonNode files = JSON.readTree(b64.decode(encodedJitConfig));
        JsonNode runner = JSON.readTree(b64.decode(files.get(".runner").asText()));
        String token = JSON.readTree(b64.decode(files.get(".credentials").asText())).path("data").path("token").asText();
        String server = runner.get("serverUrl").asText().replaceFirst("/$", "");
        HttpResponse<String> connected = http.send(HttpRequest.newBuilder(URI.create(server + "/_apis/connectionData"))
                .header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
        if (connected.statusCode() != 200) {
            throw new IllegalStateException("connectionData answered " + connected.statusCode() + ": " + connected.body());
        }
        HttpResponse<String> claimed = http.send(HttpRequest.newBuilder(URI.create(server + "/_apis/kiln/jobs/acquire"))
                .header("Authorization", "Bearer " + token).POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (claimed.statusCode() != 200) {
            throw new IllegalStateException("acquire answered " + claimed.statusCode() + ": " + claimed.body());
        }
        return JSON.readTree(claimed.body());
    }
}
