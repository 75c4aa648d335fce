package dev.kiln.testkit.gitlab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.TestingClock;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The fake GitLab checked with raw HTTP, so that a fake accepting anything would fail here. */
@Timeout(60)
class FakeGitLabTest {
    static final ObjectMapper JSON = new ObjectMapper();
    final TestingClock clock = new TestingClock();
    final FakeGitLab fake = FakeGitLab.start(clock);
    final HttpClient http = HttpClient.newHttpClient();
    final HookSink sink = new HookSink();
    final long project;
    final String maintainer;

    FakeGitLabTest() {
        fake.addGroup("acme");
        project = fake.addProject("acme/widgets");
        fake.addProject("acme/gadgets");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        maintainer = fake.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api");
        fake.hooks().sendTo(sink.uri(), "hook-secret");
        fake.longPoll(Duration.ofMillis(100));
    }

    @AfterEach
    void close() {
        fake.close();
        sink.close();
    }

    @Test
    void creatingARunnerChecksTheTokenItsScopeTheRoleAndTheTagRule() throws Exception {
        String body = "{\"runner_type\": \"project_type\", \"project_id\": " + project + ", \"tag_list\": [\"kiln\"], \"run_untagged\": false}";
        assertRefused(send("POST", "/user/runners", null, body), 401, "message", "401 Unauthorized");
        assertRefused(send("POST", "/user/runners", "glpat-wrong", body), 401, "message", "401 Unauthorized");
        String readOnly = fake.addAccessToken("kiln-bot", "read_api");
        assertRefused(send("POST", "/user/runners", readOnly, body), 403, "error", "insufficient_scope");
        fake.addUser("dev", false);
        fake.addMember("acme/widgets", "dev", FakeGitLab.Role.DEVELOPER);
        assertRefused(send("POST", "/user/runners", fake.addAccessToken("dev", "api"), body), 403, "message", "403 Forbidden - Insufficient permissions");
        assertRefused(send("POST", "/user/runners", maintainer, "{\"project_id\": " + project + "}"), 400, "error",
                "runner_type is missing, runner_type does not have a valid value");
        assertRefused(send("POST", "/user/runners", maintainer, "{\"runner_type\": \"project_type\"}"), 400, "error", "project_id is missing");
        assertRefused(send("POST", "/user/runners", maintainer, "{\"runner_type\": \"group_type\", \"group_id\": 101}"), 403, "message",
                "403 Forbidden - Insufficient permissions");
        assertRefused(send("POST", "/user/runners", maintainer, "{\"runner_type\": \"instance_type\"}"), 403, "message",
                "403 Forbidden - Insufficient permissions");
        HttpResponse<String> untagged = send("POST", "/user/runners", maintainer,
                "{\"runner_type\": \"project_type\", \"project_id\": " + project + ", \"run_untagged\": false}");
        assertThat(untagged.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(untagged.body()).at("/message/tags_list/0").asText()).isEqualTo("can not be empty when runner is not allowed to pick untagged jobs");

        HttpResponse<String> created = send("POST", "/user/runners", maintainer, body);
        assertThat(created.statusCode()).isEqualTo(201);
        JsonNode runner = JSON.readTree(created.body());
        assertThat(runner.get("token").asText()).startsWith("glrt-");
        assertThat(runner.get("token_expires_at").isNull()).isTrue();
        assertThat(fake.runners()).singleElement().satisfies(r -> {
            assertThat(r.id()).isEqualTo(runner.get("id").asLong());
            assertThat(r.tags()).containsExactly("kiln");
            assertThat(r.runUntagged()).isFalse();
            assertThat(r.scope()).isEqualTo("acme/widgets");
        });
        // Form-encoded, as curl -F sends it, with the tags comma-separated.
        HttpResponse<String> form = sendForm("POST", "/user/runners", maintainer,
                "runner_type=project_type&project_id=" + project + "&tag_list=kiln,kiln-4cpu-8gb&run_untagged=false");
        assertThat(form.statusCode()).isEqualTo(201);
        assertThat(fake.runners().get(1).tags()).containsExactlyInAnyOrder("kiln", "kiln-4cpu-8gb");
    }

    @Test
    void aPendingJobGoesOnlyToARunnerWhoseTagsCoverItsTagsInItsScopeAndOneAtATime() throws Exception {
        String small = createRunner(project, "kiln-4cpu-8gb");
        String plain = createRunner(project, "kiln");
        long otherProject = fake.addProject("acme/other");
        fake.addMember("acme/other", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        String elsewhere = createRunner(otherProject, "kiln");
        long job = fake.queueJob("acme/widgets", "test", List.of("kiln"), "echo hi");
        long second = fake.queueJob("acme/widgets", "test2", List.of("kiln"), "echo again");

        assertThat(request(small).statusCode()).isEqualTo(204);
        assertThat(request(elsewhere).statusCode()).isEqualTo(204);
        HttpResponse<String> taken = request(plain);
        assertThat(taken.statusCode()).isEqualTo(201);
        JsonNode payload = JSON.readTree(taken.body());
        assertThat(payload.get("id").asLong()).isEqualTo(job);
        assertThat(payload.at("/steps/0/script/0").asText()).isEqualTo("echo hi");
        assertThat(payload.get("token").asText()).startsWith("glcbt-");
        assertThat(fake.job(job).status()).isEqualTo("running");
        // While it runs its job, that runner is handed nothing else.
        assertThat(request(plain).statusCode()).isEqualTo(204);
        assertThat(fake.job(second).status()).isEqualTo("pending");
        assertThat(send("POST", "/jobs/request", null, "{\"token\": \"glrt-unknown\"}").statusCode()).isEqualTo(403);
    }

    @Test
    void theTraceIsAppendedByContentRangeAndTheFinalStatusEndsTheJobWithHooksAtEachStep() throws Exception {
        String runner = createRunner(project, "kiln");
        long id = fake.queueJob("acme/widgets", "build", List.of("kiln"), "echo one\necho two");
        JsonNode payload = JSON.readTree(request(runner).body());
        String jobToken = payload.get("token").asText();

        assertThat(trace(id, jobToken, "0-3", "one\n").statusCode()).isEqualTo(202);
        HttpResponse<String> wrongStart = trace(id, jobToken, "0-3", "two\n");
        assertThat(wrongStart.statusCode()).isEqualTo(416);
        assertThat(wrongStart.headers().firstValue("Range")).hasValue("0-4");
        HttpResponse<String> next = trace(id, jobToken, "4-7", "two\n");
        assertThat(next.statusCode()).isEqualTo(202);
        assertThat(next.headers().firstValue("Range")).hasValue("0-8");
        assertThat(trace(id, "glcbt-wrong", "8-9", "x\n").statusCode()).isEqualTo(403);
        assertThat(send("PUT", "/jobs/" + id, null, "{\"token\": \"" + jobToken + "\", \"state\": \"done\"}").statusCode()).isEqualTo(400);
        HttpResponse<String> failed = send("PUT", "/jobs/" + id, null,
                "{\"token\": \"" + jobToken + "\", \"state\": \"failed\", \"failure_reason\": \"script_failure\", \"exit_code\": 3}");
        assertThat(failed.statusCode()).isEqualTo(200);
        assertThat(failed.headers().firstValue("Job-Status")).hasValue("failed");
        assertThat(fake.job(id)).satisfies(j -> {
            assertThat(j.status()).isEqualTo("failed");
            assertThat(j.exitCode()).isEqualTo(3);
            assertThat(j.failureReason()).isEqualTo("script_failure");
            assertThat(j.trace()).isEqualTo("one\ntwo\n");
        });
        HttpResponse<String> late = trace(id, jobToken, "8-9", "x\n");
        assertThat(late.statusCode()).isEqualTo(403);
        assertThat(late.headers().firstValue("Job-Status")).hasValue("failed");

        await().atMost(Duration.ofSeconds(20)).until(() -> sink.received().size() == 4);
        List<HookSink.Received> hooks = sink.received();
        assertThat(hooks).extracting(h -> JSON.readTree(h.body()).get("build_status").asText())
                .containsExactly("created", "pending", "running", "failed");
        assertThat(hooks).allSatisfy(h -> {
            assertThat(h.headers().getFirst("X-Gitlab-Event")).isEqualTo("Job Hook");
            assertThat(h.headers().getFirst("X-Gitlab-Token")).isEqualTo("hook-secret");
            assertThat(h.headers().getFirst("Idempotency-Key")).isNotBlank();
            JsonNode body = JSON.readTree(h.body());
            assertThat(body.get("object_kind").asText()).isEqualTo("build");
            assertThat(body.get("build_id").asLong()).isEqualTo(id);
            assertThat(body.get("project_id").asLong()).isEqualTo(project);
            assertThat(body.has("tag_list")).as("Job Hooks carry no job tags").isFalse();
        });
        assertThat(hooks).extracting(h -> h.headers().getFirst("Idempotency-Key")).doesNotHaveDuplicates();
        assertThat(JSON.readTree(hooks.get(2).body()).at("/runner/tags/0").asText()).isEqualTo("kiln");
    }

    @Test
    void pendingJobsAreListedByScopeWithTheirTagsAndPaged() throws Exception {
        for (int i = 0; i < 3; i++) {
            fake.queueJob("acme/widgets", "job" + i, List.of("kiln", "kiln-4cpu-8gb"), "true");
        }
        String runner = createRunner(project, "kiln", "kiln-4cpu-8gb");
        request(runner);
        HttpResponse<String> page1 = send("GET", "/projects/" + project + "/jobs?scope[]=pending&per_page=1", maintainer, null);
        assertThat(page1.statusCode()).isEqualTo(200);
        assertThat(page1.headers().firstValue("X-Total")).hasValue("2");
        assertThat(page1.headers().firstValue("X-Next-Page")).hasValue("2");
        JsonNode first = JSON.readTree(page1.body());
        assertThat(first).hasSize(1);
        assertThat(first.get(0).get("status").asText()).isEqualTo("pending");
        assertThat(first.get(0).get("tag_list")).extracting(JsonNode::asText).containsExactly("kiln", "kiln-4cpu-8gb");
        HttpResponse<String> byPath = send("GET", "/projects/acme%2Fwidgets/jobs?scope%5B%5D=pending&scope%5B%5D=running", maintainer, null);
        assertThat(JSON.readTree(byPath.body())).hasSize(3);
        assertRefused(send("GET", "/projects/" + project + "/jobs?scope[]=bogus", maintainer, null), 400, "error", "scope does not have a valid value");
        assertRefused(send("GET", "/projects/acme%2Fgadgets/jobs", maintainer, null), 404, "message", "404 Project Not Found");
        assertRefused(send("GET", "/projects/" + project + "/jobs", fake.addAccessToken("kiln-bot", "create_runner"), null), 403, "error", "insufficient_scope");
        long jobId = first.get(0).get("id").asLong();
        assertThat(JSON.readTree(send("GET", "/projects/" + project + "/jobs/" + jobId, maintainer, null).body()).get("tag_list")).hasSize(2);
        assertRefused(send("GET", "/projects/" + project + "/jobs/999999", maintainer, null), 404, "message", "404 Not found");
    }

    @Test
    void deletingARunnerRevokesItsTokenAndIsRefusedWithoutScopeOrRole() throws Exception {
        String token = createRunner(project, "kiln");
        long id = fake.runners().get(0).id();
        assertRefused(send("DELETE", "/runners/" + id, fake.addAccessToken("kiln-bot", "create_runner"), null), 403, "error", "insufficient_scope");
        fake.addUser("reporter", false);
        fake.addMember("acme/widgets", "reporter", FakeGitLab.Role.REPORTER);
        assertRefused(send("DELETE", "/runners/" + id, fake.addAccessToken("reporter", "api"), null), 403, "message", "403 Forbidden");
        assertThat(send("POST", "/runners/verify", null, "{\"token\": \"" + token + "\"}").statusCode()).isEqualTo(200);
        assertThat(send("DELETE", "/runners/" + id, maintainer, null).statusCode()).isEqualTo(204);
        assertRefused(send("DELETE", "/runners/" + id, maintainer, null), 404, "message", "404 Runner Not Found");
        assertThat(send("POST", "/runners/verify", null, "{\"token\": \"" + token + "\"}").statusCode()).isEqualTo(403);
        assertThat(request(token).statusCode()).isEqualTo(403);
        assertThat(fake.runners()).isEmpty();
        // A runner may also remove itself with its own token.
        String self = createRunner(project, "kiln");
        assertThat(sendForm("DELETE", "/runners", null, "token=" + self).statusCode()).isEqualTo(204);
        assertThat(fake.runners()).isEmpty();
    }

    @Test
    void theLongPollHoldsARunnerUntilAJobArrives() throws Exception {
        fake.longPoll(Duration.ofSeconds(30));
        String runner = createRunner(project, "kiln");
        CompletableFuture<HttpResponse<String>> held = http.sendAsync(request("POST", "/jobs/request", null,
                "{\"token\": \"" + runner + "\", \"last_update\": \"0\"}"), HttpResponse.BodyHandlers.ofString());
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> !held.isDone());
        long id = fake.queueJob("acme/widgets", "late", List.of("kiln"), "true");
        HttpResponse<String> answer = held.get();
        assertThat(answer.statusCode()).isEqualTo(201);
        assertThat(JSON.readTree(answer.body()).get("id").asLong()).isEqualTo(id);
    }

    @Test
    void restFaultsAre5xxAnd429WithRetryAfter() throws Exception {
        fake.faults().failNext(1, 502);
        assertThat(send("GET", "/projects/" + project + "/jobs", maintainer, null).statusCode()).isEqualTo(502);
        fake.faults().tooManyRequestsNext(1, 7);
        HttpResponse<String> limited = send("GET", "/projects/" + project + "/jobs", maintainer, null);
        assertThat(limited.statusCode()).isEqualTo(429);
        assertThat(limited.headers().firstValue("Retry-After")).hasValue("7");
        assertThat(limited.body()).isEqualTo("Retry later\n");
        assertThat(send("GET", "/projects/" + project + "/jobs", maintainer, null).statusCode()).isEqualTo(200);
        assertThat(fake.requests()).containsEntry("GET /projects/:id/jobs", 3L);
    }

    @Test
    void hooksAreDroppedOrDuplicatedOnRequestAndAHookFailingFourTimesIsDisabled() throws Exception {
        fake.hooks().dropNext(1);
        fake.hooks().duplicateNext(1);
        fake.queueJob("acme/widgets", "a", List.of("kiln"), "true"); // created: dropped; pending: twice
        await().atMost(Duration.ofSeconds(20)).until(() -> sink.received().size() == 2);
        List<HookSink.Received> twice = sink.received();
        assertThat(twice.get(0).headers().getFirst("Idempotency-Key")).isEqualTo(twice.get(1).headers().getFirst("Idempotency-Key"));
        assertThat(twice.get(0).headers().getFirst("X-Gitlab-Webhook-UUID")).isNotEqualTo(twice.get(1).headers().getFirst("X-Gitlab-Webhook-UUID"));
        assertThat(fake.hooks().deliveries().get(0).status()).isEqualTo(FakeGitLabHooks.DROPPED);

        sink.answer(500);
        fake.queueJob("acme/widgets", "b", List.of("kiln"), "true");
        fake.queueJob("acme/widgets", "c", List.of("kiln"), "true");
        await().atMost(Duration.ofSeconds(20)).until(() -> fake.hooks().idle() && fake.hooks().deliveries().size() == 7);
        assertThat(fake.hooks().enabled()).isFalse();
        sink.answer(200);
        fake.queueJob("acme/widgets", "d", List.of("kiln"), "true");
        await().atMost(Duration.ofSeconds(20)).until(() -> fake.hooks().idle() && fake.hooks().deliveries().size() == 9);
        assertThat(fake.hooks().deliveries().subList(7, 9)).extracting(FakeGitLabHooks.Delivery::status)
                .containsOnly(FakeGitLabHooks.DISABLED);
        clock.advance(Duration.ofMinutes(1));
        assertThat(fake.hooks().enabled()).isTrue();
    }

    private String createRunner(long projectId, String... tags) throws Exception {
        StringBuilder list = new StringBuilder();
        for (String tag : tags) {
            list.append(list.isEmpty() ? "" : ", ").append('"').append(tag).append('"');
        }
        HttpResponse<String> created = send("POST", "/user/runners", maintainer, "{\"runner_type\": \"project_type\", \"project_id\": "
                + projectId + ", \"tag_list\": [" + list + "], \"run_untagged\": false}");
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        return JSON.readTree(created.body()).get("token").asText();
    }

    private HttpResponse<String> request(String runnerToken) throws Exception {
        return send("POST", "/jobs/request", null, "{\"token\": \"" + runnerToken + "\", \"info\": {\"name\": \"gitlab-runner\"}}");
    }

    private HttpResponse<String> trace(long id, String jobToken, String range, String text) throws Exception {
        HttpRequest request = HttpRequest.newBuilder(URI.create(fake.url() + "/api/v4/jobs/" + id + "/trace"))
                .header("JOB-TOKEN", jobToken).header("Content-Range", range).header("Content-Type", "text/plain")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(text)).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest request(String method, String path, String token, String json) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(fake.url() + "/api/v4" + path));
        if (token != null) {
            request.header("PRIVATE-TOKEN", token);
        }
        if (json != null) {
            request.header("Content-Type", "application/json");
        }
        return request.method(method, json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json)).build();
    }

    private HttpResponse<String> send(String method, String path, String token, String json) throws Exception {
        return http.send(request(method, path, token, json), HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> sendForm(String method, String path, String token, String form) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(fake.url() + "/api/v4" + path))
                .header("Content-Type", "application/x-www-form-urlencoded");
        if (token != null) {
            request.header("PRIVATE-TOKEN", token);
        }
        return http.send(request.method(method, HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void assertRefused(HttpResponse<String> answer, int status, String field, String text) throws Exception {
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(status);
        assertThat(JSON.readTree(answer.body()).get(field).asText()).isEqualTo(text);
    }
}
