package dev.kiln.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class WebhookEventsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void theQueuedExampleOfTheReferenceParses() throws IOException {
        WorkflowJobEvent event = (WorkflowJobEvent) WebhookEvents.parse("workflow_job", "5c1e2f40-8a7b-11f0-9d3e-0a1b2c3d4e5f",
                resource("workflow_job-queued.json"));

        assertThat(event.action()).isEqualTo(WorkflowJobEvent.Action.QUEUED);
        assertThat(event.jobId()).isEqualTo(41000000123L);
        assertThat(event.runId()).isEqualTo(15000000456L);
        assertThat(event.runAttempt()).isEqualTo(1);
        assertThat(event.repositoryFullName()).isEqualTo("acme/widgets");
        assertThat(event.repositoryId()).isEqualTo(700001);
        assertThat(event.organization()).isEqualTo("acme");
        assertThat(event.installationId()).isEqualTo(55501L);
        assertThat(event.labels()).containsExactly("self-hosted", "linux", "x64", "mvm-4cpu");
        assertThat(event.runnerName()).isNull();
        assertThat(event.runnerId()).isNull();
        assertThat(event.conclusion()).isNull();
        assertThat(event.status()).isEqualTo("queued");
        assertThat(event.createdAt()).isEqualTo(Instant.parse("2026-09-01T10:00:00Z"));
        assertThat(event.completedAt()).isNull();
        assertThat(event.jobName()).isEqualTo("build (linux)");
        assertThat(event.workflowName()).isEqualTo("ci");
        assertThat(event.sender()).as("who triggered the run, who may debug it").isEqualTo("dev1");
    }

    @Test
    void theInProgressExampleCarriesTheRunnerName() throws IOException {
        WorkflowJobEvent event = (WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d1", resource("workflow_job-in_progress.json"));
        assertThat(event.action()).isEqualTo(WorkflowJobEvent.Action.IN_PROGRESS);
        assertThat(event.runnerName()).isEqualTo("mvm-0b7c6c1e");
        assertThat(event.runnerId()).isEqualTo(812L);
        assertThat(event.runnerGroupName()).isEqualTo("Default");
    }

    @Test
    void theCancelledExampleIsADeltaThatParsesOverTheQueuedPayloadAndAloneIsStoredButUnusable() throws IOException {
        byte[] delta = resource("workflow_job-completed-cancelled-delta.json");
        // The reference shows "only the changed workflow_job fields": alone it lacks the repository Kiln needs.
        assertThat(WebhookEvents.parse("workflow_job", "d2", delta)).isInstanceOfSatisfying(UnusableEvent.class,
                u -> assertThat(u.reason()).contains("repository has no owner and name"));

        ObjectNode full = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ObjectNode changes = (ObjectNode) JSON.readTree(delta);
        full.put("action", changes.get("action").asText());
        ((ObjectNode) full.get("workflow_job")).setAll((ObjectNode) changes.get("workflow_job"));
        WorkflowJobEvent event = (WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d2", JSON.writeValueAsBytes(full));

        assertThat(event.action()).isEqualTo(WorkflowJobEvent.Action.COMPLETED);
        assertThat(event.conclusion()).isEqualTo("cancelled");
        assertThat(event.runnerName()).isNull();
        assertThat(event.completedAt()).isEqualTo(Instant.parse("2026-09-01T10:03:12Z"));
    }

    @Test
    void pingParsesWithItsAppId() throws IOException {
        PingEvent ping = (PingEvent) WebhookEvents.parse("ping", "d3", resource("ping.json"));
        assertThat(ping.hookId()).isEqualTo(450001L);
        assertThat(ping.appId()).isEqualTo(12345L);
        assertThat(ping.zen()).isEqualTo("Keep it logically awesome.");
    }

    @Test
    void unknownEventsAndActionsAreRecognisedPolitely() throws IOException {
        assertThat(WebhookEvents.parse("installation", "d4", "{\"action\": \"created\"}".getBytes(UTF_8)))
                .isEqualTo(new OtherEvent("d4", "installation", "created"));
        ObjectNode queued = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        queued.put("action", "requested_later");
        assertThat(WebhookEvents.parse("workflow_job", "d5", JSON.writeValueAsBytes(queued)))
                .isEqualTo(new OtherEvent("d5", "workflow_job", "requested_later"));
    }

    @Test
    void onlyAMissingHeaderOrABodyThatIsNotAJsonObjectIsRefused() {
        assertMalformed("workflow_job", "d", "not json".getBytes(UTF_8), "is not JSON");
        assertMalformed("workflow_job", "d", "[1]".getBytes(UTF_8), "not a JSON object");
        assertMalformed(null, "d", "{}".getBytes(UTF_8), "X-GitHub-Event header is missing");
        assertMalformed("workflow_job", null, "{}".getBytes(UTF_8), "X-GitHub-Delivery header is missing");
        String deep = "[".repeat(500) + "]".repeat(500);
        assertMalformed("workflow_job", "d", ("{\"a\": " + deep + "}").getBytes(UTF_8), "is not JSON");
    }

    @Test
    void fieldsKilnDoesNotNeedAreToleratedMissingMistypedOrInconsistent() throws IOException {
        ObjectNode payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ObjectNode job = (ObjectNode) payload.get("workflow_job");
        job.put("id", "41000000123");
        job.putArray("labels").add(1).add("kiln-2cpu-4gb").addNull();
        job.put("created_at", "yesterday");
        job.remove(List.of("run_id", "name", "workflow_name", "run_attempt"));
        job.put("conclusion", "x".repeat(200));
        ((ObjectNode) payload.get("repository")).put("full_name", "someone-else/renamed");
        ((ObjectNode) payload.get("repository")).remove("id");
        payload.put("organization", "not an object");
        payload.set("extra", JSON.createObjectNode().put("anything", true));

        WorkflowJobEvent event = (WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d", JSON.writeValueAsBytes(payload));

        assertThat(event.jobId()).isEqualTo(41000000123L);
        assertThat(event.labels()).containsExactly("kiln-2cpu-4gb");
        assertThat(event.createdAt()).isNull();
        assertThat(event.runId()).isZero();
        assertThat(event.jobName()).isEqualTo("(unnamed job)");
        assertThat(event.conclusion()).hasSize(WebhookEvents.MAX_CONCLUSION);
        assertThat(event.repositoryFullName()).as("owner.login/name, what the API's paths take").isEqualTo("acme/widgets");
        assertThat(event.organization()).isNull();
        assertThat(event.installationId()).isEqualTo(55501L);
        assertThat(event.sender()).isEqualTo("dev1");

        // A bot (no name a user can have) or a sender that is not an object: nobody may debug the job but admins.
        payload.set("sender", JSON.createObjectNode().put("login", "dependabot[bot]").put("type", "Bot"));
        assertThat(((WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d", JSON.writeValueAsBytes(payload))).sender()).isNull();
        payload.put("sender", "dev1");
        assertThat(((WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d", JSON.writeValueAsBytes(payload))).sender()).isNull();

        ((ObjectNode) payload.get("repository")).remove("owner");
        assertThat(((WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d", JSON.writeValueAsBytes(payload)))
                .repositoryFullName()).as("without an owner, full_name").isEqualTo("someone-else/renamed");
    }

    @Test
    void aWorkflowJobWithoutWhatKilnNeedsIsUnusableWithTheReason() throws IOException {
        ObjectNode payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ((ObjectNode) payload.get("workflow_job")).put("id", -4);
        assertThat(WebhookEvents.parse("workflow_job", "d", JSON.writeValueAsBytes(payload)))
                .isEqualTo(new UnusableEvent("d", "workflow_job", "queued", "workflow_job.id is missing or not a non-negative 64-bit integer"));
        payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ((ObjectNode) payload.get("repository")).put("full_name", "acme/../etc").put("name", "..");
        assertThat(WebhookEvents.parse("workflow_job", "d", JSON.writeValueAsBytes(payload)))
                .isInstanceOfSatisfying(UnusableEvent.class, u -> assertThat(u.reason()).contains("repository"));
        assertThat(WebhookEvents.parse("workflow_job", "d", "{\"action\": 7}".getBytes(UTF_8)))
                .isInstanceOfSatisfying(UnusableEvent.class, u -> assertThat(u.reason()).contains("action"));
    }

    @Test
    void aFormEncodedDeliveryCarriesItsJsonInPayload() throws IOException {
        byte[] json = resource("workflow_job-queued.json");
        byte[] form = ("payload=" + java.net.URLEncoder.encode(new String(json, UTF_8), UTF_8)).getBytes(UTF_8);

        byte[] payload = WebhookEvents.payload("application/x-www-form-urlencoded; charset=utf-8", form);

        assertThat(((WorkflowJobEvent) WebhookEvents.parse("workflow_job", "d", payload)).jobId()).isEqualTo(41000000123L);
        assertThat(WebhookEvents.payload("application/json", json)).isSameAs(json);
        assertThatThrownBy(() -> WebhookEvents.payload("application/x-www-form-urlencoded", "other=1".getBytes(UTF_8)))
                .isInstanceOfSatisfying(WebhookException.class, e -> assertThat(e.httpStatus()).isEqualTo(400))
                .hasMessageContaining("no payload field");
    }

    private static void assertMalformed(String event, String delivery, byte[] body, String message) {
        assertThatThrownBy(() -> WebhookEvents.parse(event, delivery, body))
                .isInstanceOfSatisfying(WebhookException.class, e -> assertThat(e.httpStatus()).isEqualTo(400))
                .hasMessageContaining(message);
    }

    static byte[] resource(String name) throws IOException {
        try (InputStream in = WebhookEventsTest.class.getResourceAsStream("/github/" + name)) {
            if (in == null) {
                throw new IOException("test resource /github/" + name + " is missing");
            }
            return in.readAllBytes();
        }
    }
}
