package dev.kiln.testkit.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.TestingClock;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The fake checked with raw HTTP and hand-made JWTs, so that a fake accepting anything would fail here. */
@Timeout(60)
class FakeGitHubRawTest {
    static final long APP = 777;
    static final ObjectMapper JSON = new ObjectMapper();
    static final KeyPair KEY = generate();
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(APP, KEY.getPublic(), clock);
    final HttpClient http = HttpClient.newHttpClient();
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);

    @AfterEach
    void close() {
        fake.close();
    }

    @Test
    void jwtsAreCheckedForSignatureClaimsAndIssuer() throws Exception {
        long now = clock.instant().getEpochSecond();
        assertThat(get("/app/installations", jwt(KEY.getPrivate(), now - 60, now + 540, "777")).statusCode()).isEqualTo(200);
        assertRefused(get("/app/installations", jwt(generate().getPrivate(), now - 60, now + 540, "777")), 401, FakeJwt.UNDECODABLE);
        assertRefused(get("/app/installations", jwt(KEY.getPrivate(), now - 60, now + 700, "777")), 401, FakeJwt.EXP_TOO_FAR);
        assertRefused(get("/app/installations", jwt(KEY.getPrivate(), now - 700, now - 1, "777")), 401, FakeJwt.EXP_INVALID);
        assertRefused(get("/app/installations", jwt(KEY.getPrivate(), now + 300, now + 540, "777")), 401, FakeJwt.IAT_INVALID);
        assertRefused(get("/app/installations", jwt(KEY.getPrivate(), now - 60, now + 540, "778")), 401, FakeJwt.UNKNOWN_ISSUER);
        assertRefused(get("/app/installations", "not-a-jwt"), 401, "Bad credentials");
        assertRefused(get("/app/installations", null), 401, "Requires authentication");
    }

    @Test
    void installationTokensAreMintedWithJwtsUsedForInstallationEndpointsAndExpireAfterAnHour() throws Exception {
        String token = mint(acme);
        assertThat(token).startsWith("ghs_");
        assertThat(post("/app/installations/999/access_tokens", jwt(), "").statusCode()).isEqualTo(404);
        assertRefused(post("/app/installations/" + acme + "/access_tokens", token, ""), 401, FakeJwt.UNDECODABLE);
        assertThat(get("/installation/repositories", token).statusCode()).isEqualTo(200);
        assertThat(get("/installation/repositories", jwt()).statusCode()).isEqualTo(403);
        clock.advance(Duration.ofMinutes(61));
        assertRefused(get("/installation/repositories", token), 401, "Bad credentials");
    }

    @Test
    void generateJitConfigChecksFieldsLabelsGroupsAndNames() throws Exception {
        String token = mint(acme);
        String path = "/orgs/acme/actions/runners/generate-jitconfig";
        assertRefused(post(path, token, "{\"name\": \"r1\", \"labels\": [\"kiln\"]}"), 422, "missing required key: runner_group_id");
        assertRefused(post(path, token, "{\"name\": \"r1\", \"runner_group_id\": 1, \"labels\": []}"), 422, "1 to 100");
        assertRefused(post(path, token, "{\"name\": \"r1\", \"runner_group_id\": 42, \"labels\": [\"kiln\"]}"), 404, "Not Found");
        assertRefused(post(path, token, "{\"name\": \"r1\", \"runner_group_id\": 2, \"labels\": [\"kiln\"]}"), 403, "GitHub-hosted");
        HttpResponse<String> created = post(path, token, "{\"name\": \"r1\", \"runner_group_id\": 1, \"labels\": [\"self-hosted\", \"kiln\"]}");
        assertThat(created.statusCode()).isEqualTo(201);
        assertRefused(post(path, token, "{\"name\": \"r1\", \"runner_group_id\": 1, \"labels\": [\"kiln\"]}"), 409, "already exists");
        assertRefused(post("/orgs/other/actions/runners/generate-jitconfig", token, "{}"), 404, "Not Found");

        JsonNode answer = JSON.readTree(created.body());
        assertThat(answer.at("/runner/status").asText()).isEqualTo("offline");
        assertThat(answer.at("/runner/ephemeral").asBoolean()).isTrue();
        JsonNode files = JSON.readTree(Base64.getDecoder().decode(answer.get("encoded_jit_config").asText()));
        JsonNode runner = JSON.readTree(Base64.getDecoder().decode(files.get(".runner").asText()));
        JsonNode credentials = JSON.readTree(Base64.getDecoder().decode(files.get(".credentials").asText()));
        assertThat(runner.get("agentName").asText()).isEqualTo("r1");
        assertThat(runner.get("serverUrl").asText()).isEqualTo(fake.url() + "/");
        assertThat(runner.get("gitHubUrl").asText()).isEqualTo(fake.url() + "/acme");
        assertThat(credentials.get("scheme").asText()).isEqualTo("OAuthAccessToken");
        String runnerToken = credentials.at("/data/token").asText();

        // The runner side: a wrong token is refused; the right one connects and claims only a matching job.
        assertRefused(get("/_apis/connectionData", "wrong"), 401, "Bad credentials");
        assertThat(get("/_apis/connectionData", runnerToken).statusCode()).isEqualTo(200);
        fake.addRepository("acme", "widgets");
        fake.queueJob("acme", "widgets", "arm", List.of("kiln-arm64"), "true");
        assertThat(post("/_apis/kiln/jobs/acquire", runnerToken, "{}").statusCode()).isEqualTo(204);
        long job = fake.queueJob("acme", "widgets", "x86", List.of("KILN"), "echo hi");
        HttpResponse<String> claimed = post("/_apis/kiln/jobs/acquire", runnerToken, "{}");
        assertThat(JSON.readTree(claimed.body()).get("jobId").asLong()).isEqualTo(job);
        assertRefused(post("/_apis/kiln/jobs/acquire", runnerToken, "{}"), 409, "took job");
        long runnerId = answer.at("/runner/id").asLong();
        assertRefused(delete("/orgs/acme/actions/runners/" + runnerId, token), 422, "is still running a job");
        assertRefused(post("/_apis/kiln/jobs/" + job + "/completed", runnerToken, "{\"exitCode\": 0}"), 409, "not in_progress");
        assertThat(post("/_apis/kiln/jobs/" + job + "/started", runnerToken, "{}").statusCode()).isEqualTo(200);
        assertThat(post("/_apis/kiln/jobs/" + job + "/completed", runnerToken, "{\"exitCode\": 0, \"output\": \"hi\"}").statusCode()).isEqualTo(200);
        assertThat(fake.job(job).conclusion()).isEqualTo("success");
        assertThat(delete("/orgs/acme/actions/runners/" + runnerId, token).statusCode()).as("a JIT runner is removed after its job").isEqualTo(404);
    }

    @Test
    void permissionsAreEnforced() throws Exception {
        long readOnly = fake.installOnOrganization("ro", Map.of("metadata", "read"));
        fake.addRepository("ro", "site");
        String token = mint(readOnly);
        assertRefused(post("/orgs/ro/actions/runners/generate-jitconfig", token, "{}"), 403, "Resource not accessible by integration");
        assertRefused(get("/repos/ro/site/actions/runs", token), 403, "Resource not accessible by integration");
        assertRefused(get("/orgs/ro/actions/runners", token), 403, "Resource not accessible by integration");
    }

    @Test
    void rateLimitHeadersOnEveryAnswerAndInjectedLimitsAndFailures() throws Exception {
        HttpResponse<String> ok = get("/app/installations", jwt());
        assertThat(ok.headers().firstValue("x-ratelimit-limit")).hasValue("5000");
        assertThat(ok.headers().firstValue("x-ratelimit-remaining")).hasValue("4999");
        assertThat(Long.parseLong(ok.headers().firstValue("x-ratelimit-reset").orElseThrow())).isGreaterThan(clock.instant().getEpochSecond());

        fake.faults().exhaustPrimaryRateLimit(Duration.ofMinutes(5), 403);
        HttpResponse<String> limited = get("/app/installations", jwt());
        assertRefused(limited, 403, "API rate limit exceeded for app 777");
        assertThat(limited.headers().firstValue("x-ratelimit-remaining")).hasValue("0");
        assertThat(limited.headers().firstValue("x-ratelimit-reset")).hasValue(Long.toString(clock.instant().plusSeconds(300).getEpochSecond()));
        clock.advance(Duration.ofMinutes(5));
        assertThat(get("/app/installations", jwt()).statusCode()).isEqualTo(200);

        fake.faults().secondaryRateLimitNext(1, 429, OptionalLong.of(30));
        HttpResponse<String> secondary = get("/app/installations", jwt());
        assertRefused(secondary, 429, "secondary rate limit");
        assertThat(secondary.headers().firstValue("retry-after")).hasValue("30");

        fake.faults().failNext(1, 502);
        assertThat(get("/app/installations", jwt()).statusCode()).isEqualTo(502);
        assertThat(get("/app/installations", jwt()).statusCode()).isEqualTo(200);
    }

    @Test
    void listingsArePagedWithLinkHeaders() throws Exception {
        for (int i = 0; i < 35; i++) {
            fake.install("user" + i, "User", Map.of("metadata", "read"), List.of());
        }
        HttpResponse<String> first = get("/app/installations", jwt());
        assertThat(JSON.readTree(first.body()).size()).isEqualTo(30);
        String link = first.headers().firstValue("link").orElseThrow();
        assertThat(link).contains("page=2").contains("rel=\"next\"");
        String next = link.substring(link.indexOf('<') + 1, link.indexOf('>'));
        HttpResponse<String> second = http.send(HttpRequest.newBuilder(URI.create(next)).header("Authorization", "Bearer " + jwt()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(JSON.readTree(second.body()).size()).isEqualTo(6);
        assertThat(second.headers().firstValue("link")).isEmpty();
    }

    @Test
    void webhooksAreSignedWithTheSecretAndCarryGitHubsHeaders() throws Exception {
        assertThat(FakeWebhooks.sign("It's a Secret to Everybody".getBytes(UTF_8), "Hello, World!".getBytes(UTF_8)))
                .isEqualTo("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        var received = new java.util.concurrent.LinkedBlockingQueue<com.sun.net.httpserver.Headers>();
        var bodies = new java.util.concurrent.LinkedBlockingQueue<byte[]>();
        var server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", exchange -> {
            try (exchange) {
                bodies.add(exchange.getRequestBody().readAllBytes());
                received.add(exchange.getRequestHeaders());
                exchange.sendResponseHeaders(200, -1);
            }
        });
        server.start();
        try {
            fake.webhooks().sendTo(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hook"), "shh");
            fake.addRepository("acme", "widgets");
            fake.queueJob("acme", "widgets", "build", List.of("kiln"), "true");
            var headers = received.poll(30, java.util.concurrent.TimeUnit.SECONDS);
            byte[] body = bodies.poll(30, java.util.concurrent.TimeUnit.SECONDS);
            assertThat(headers).as("a delivery within 30 s").isNotNull();
            assertThat(headers.getFirst("X-Hub-Signature-256")).isEqualTo(FakeWebhooks.sign("shh".getBytes(UTF_8), body));
            assertThat(headers.getFirst("X-GitHub-Event")).isEqualTo("workflow_job");
            assertThat(headers.getFirst("X-GitHub-Delivery")).matches("[0-9a-f-]{36}");
            assertThat(headers.getFirst("User-Agent")).startsWith("GitHub-Hookshot/");
            JsonNode payload = JSON.readTree(body);
            assertThat(payload.get("action").asText()).isEqualTo("queued");
            assertThat(payload.at("/workflow_job/runner_name").isNull()).isTrue();
            assertThat(payload.at("/installation/id").asLong()).isEqualTo(acme);
        } finally {
            server.stop(0);
        }
    }

    // ---- helpers ----

    private String jwt() throws Exception {
        long now = clock.instant().getEpochSecond();
        return jwt(KEY.getPrivate(), now - 60, now + 540, Long.toString(APP));
    }

    static String jwt(PrivateKey key, long iat, long exp, String iss) throws Exception {
        Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
        String input = b64.encodeToString("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".getBytes(UTF_8)) + "."
                + b64.encodeToString(("{\"iat\":" + iat + ",\"exp\":" + exp + ",\"iss\":\"" + iss + "\"}").getBytes(UTF_8));
        Signature signature = Signature.getInstance("SHA256withRSA");
        signature.initSign(key);
        signature.update(input.getBytes(UTF_8));
        return input + "." + b64.encodeToString(signature.sign());
    }

    private String mint(long installation) throws Exception {
        HttpResponse<String> answer = post("/app/installations/" + installation + "/access_tokens", jwt(), "");
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(201);
        JsonNode body = JSON.readTree(answer.body());
        assertThat(Instant.parse(body.get("expires_at").asText())).isEqualTo(clock.instant().plus(Duration.ofHours(1)));
        return body.get("token").asText();
    }

    private HttpResponse<String> get(String path, String credential) throws Exception {
        return send("GET", path, credential, null);
    }

    private HttpResponse<String> post(String path, String credential, String body) throws Exception {
        return send("POST", path, credential, body);
    }

    private HttpResponse<String> delete(String path, String credential) throws Exception {
        return send("DELETE", path, credential, null);
    }

    private HttpResponse<String> send(String method, String path, String credential, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(fake.url() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (credential != null) {
            request.header("Authorization", "Bearer " + credential);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void assertRefused(HttpResponse<String> answer, int status, String message) throws Exception {
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(status);
        assertThat(JSON.readTree(answer.body()).get("message").asText()).contains(message);
    }

    static KeyPair generate() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return generator.generateKeyPair();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("RSA is not available in this JDK", e);
        }
    }
}
