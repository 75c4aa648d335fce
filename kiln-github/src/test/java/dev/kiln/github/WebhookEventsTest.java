package dev.kiln.github;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.time.Instant;
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
    void theCancelledExampleIsADeltaThatParsesOverTheQueuedPayloadAndIsRefusedAlone() throws IOException {
        byte[] delta = resource("workflow_job-completed-cancelled-delta.json");
        // The reference shows "only the changed workflow_job fields": alone it lacks the required repository.
        assertThatThrownBy(() -> WebhookEvents.parse("workflow_job", "d2", delta))
                .isInstanceOfSatisfying(WebhookException.class, e -> assertThat(e.httpStatus()).isEqualTo(400))
                .hasMessageContaining("repository is missing");

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
        assertThat(ping.hookId()).isEqualTo(450001);
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
    void malformedDeliveriesFailWith400NamingTheField() throws IOException {
        assertMalformed("workflow_job", "d", "not json".getBytes(UTF_8), "is not JSON");
        assertMalformed("workflow_job", "d", "[1]".getBytes(UTF_8), "not a JSON object");
        assertMalformed(null, "d", "{}".getBytes(UTF_8), "X-GitHub-Event header is missing");
        assertMalformed("workflow_job", null, "{}".getBytes(UTF_8), "X-GitHub-Delivery header is missing");
        assertMalformed("workflow_job", "d", "{\"action\": \"queued\"}".getBytes(UTF_8), "workflow_job is missing");
        ObjectNode payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ((ObjectNode) payload.get("workflow_job")).put("id", "41000000123");
        assertMalformed("workflow_job", "d", JSON.writeValueAsBytes(payload), "workflow_job.id is not a non-negative 64-bit integer");
        payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ((ObjectNode) payload.get("workflow_job")).putArray("labels").add(1);
        assertMalformed("workflow_job", "d", JSON.writeValueAsBytes(payload), "workflow_job.labels holds a label");
        payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ((ObjectNode) payload.get("repository")).put("full_name", "acme/../etc");
        assertMalformed("workflow_job", "d", JSON.writeValueAsBytes(payload), "repository.full_name");
        payload = (ObjectNode) JSON.readTree(resource("workflow_job-queued.json"));
        ((ObjectNode) payload.get("workflow_job")).put("created_at", "yesterday");
        assertMalformed("workflow_job", "d", JSON.writeValueAsBytes(payload), "workflow_job.created_at 'yesterday' is not an ISO 8601");
        String deep = "[".repeat(500) + "]".repeat(500);
        assertMalformed("workflow_job", "d", ("{\"a\": " + deep + "}").getBytes(UTF_8), "is not JSON");
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
