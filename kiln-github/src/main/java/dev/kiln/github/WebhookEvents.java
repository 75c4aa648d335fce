package dev.kiln.github;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.core.JsonFactory;
import java.io.IOException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Parses a verified delivery into a {@link WebhookEvent}. Every field Kiln reads is checked for type and
 * bounds; a malformed body fails with a 400 {@link WebhookException} naming the field. Events and
 * {@code workflow_job} actions Kiln does not know become an {@link OtherEvent}.
 */
public final class WebhookEvents {
    static final int MAX_LABELS = 100;
    static final int MAX_TEXT = 1024;
    private static final Pattern EVENT = Pattern.compile("[a-z_]{1,64}");
    private static final Pattern DELIVERY = Pattern.compile("[A-Za-z0-9-]{1,100}");
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build());

    private WebhookEvents() {}

    /**
     * @param event the {@code X-GitHub-Event} header
     * @param deliveryId the {@code X-GitHub-Delivery} header
     * @param body the raw body, already verified by {@link WebhookVerifier}
     * @throws WebhookException 400 when a header or the body is malformed
     */
    public static WebhookEvent parse(String event, String deliveryId, byte[] body) {
        if (event == null || !EVENT.matcher(event).matches()) {
            throw WebhookException.malformed("the X-GitHub-Event header is " + (event == null ? "missing" : "not an event name"));
        }
        if (deliveryId == null || !DELIVERY.matcher(deliveryId).matches()) {
            throw WebhookException.malformed("the X-GitHub-Delivery header is " + (deliveryId == null ? "missing" : "not a delivery id"));
        }
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? "nested too deeply or too large"
                    : "line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw WebhookException.malformed("the " + event + " delivery " + deliveryId + " is not JSON (" + where + ")");
        } catch (IOException e) {
            throw WebhookException.malformed("the " + event + " delivery " + deliveryId + " cannot be read: " + e.getClass().getSimpleName());
        }
        if (root == null || !root.isObject()) {
            throw WebhookException.malformed("the " + event + " delivery " + deliveryId + " is not a JSON object");
        }
        Fields f = new Fields(event, deliveryId);
        return switch (event) {
            case "ping" -> new PingEvent(deliveryId, f.text(root, "zen", false), f.id(root, "hook_id", true),
                    f.idOrNull(root.path("hook"), "hook.app_id", "app_id"));
            case "workflow_job" -> workflowJob(root, f);
            default -> new OtherEvent(deliveryId, event, f.text(root, "action", false));
        };
    }

    private static WebhookEvent workflowJob(JsonNode root, Fields f) {
        String actionText = f.text(root, "action", true);
        WorkflowJobEvent.Action action;
        try {
            action = WorkflowJobEvent.Action.valueOf(actionText.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return new OtherEvent(f.deliveryId, "workflow_job", actionText);
        }
        JsonNode job = f.object(root, "workflow_job");
        JsonNode repository = f.object(root, "repository");
        JsonNode owner = f.object(repository, "repository.owner", "owner");
        JsonNode organization = root.get("organization");
        JsonNode installation = root.get("installation");
        List<String> labels = new ArrayList<>();
        JsonNode labelArray = job.get("labels");
        if (labelArray == null || !labelArray.isArray()) {
            throw f.bad("workflow_job.labels", "is missing or not an array");
        }
        if (labelArray.size() > MAX_LABELS) {
            throw f.bad("workflow_job.labels", "has " + labelArray.size() + " labels; GitHub allows at most " + MAX_LABELS);
        }
        for (JsonNode label : labelArray) {
            if (!label.isTextual() || label.asText().isEmpty() || label.asText().length() > MAX_TEXT) {
                throw f.bad("workflow_job.labels", "holds a label that is not a non-empty string");
            }
            labels.add(label.asText());
        }
        String fullName = f.text(repository, "repository.full_name", "full_name", true);
        String repoName = f.text(repository, "repository.name", "name", true);
        String ownerLogin = f.text(owner, "repository.owner.login", "login", true);
        if (!fullName.equalsIgnoreCase(ownerLogin + "/" + repoName)) {
            throw f.bad("repository.full_name", "'" + fullName + "' is not repository.owner.login/repository.name");
        }
        try {
            Names.checkOwner(ownerLogin);
            Names.checkRepo(repoName);
        } catch (dev.kiln.core.KilnException e) {
            throw f.bad("repository", e.getMessage());
        }
        return new WorkflowJobEvent(f.deliveryId, action,
                f.id(job, "workflow_job.id", "id", true),
                f.id(job, "workflow_job.run_id", "run_id", true),
                (int) Math.min(Integer.MAX_VALUE, job.path("run_attempt").isIntegralNumber() ? job.get("run_attempt").asLong(1) : 1),
                f.text(job, "workflow_job.name", "name", true),
                f.text(job, "workflow_job.workflow_name", "workflow_name", false),
                f.id(repository, "repository.id", "id", true),
                ownerLogin, repoName,
                organization == null || organization.isNull() ? null : f.text(organization, "organization.login", "login", true),
                installation == null || installation.isNull() ? null : f.id(installation, "installation.id", "id", true),
                labels,
                f.idOrNull(job, "workflow_job.runner_id", "runner_id"),
                f.text(job, "workflow_job.runner_name", "runner_name", false),
                f.idOrNull(job, "workflow_job.runner_group_id", "runner_group_id"),
                f.text(job, "workflow_job.runner_group_name", "runner_group_name", false),
                f.text(job, "workflow_job.status", "status", true),
                f.text(job, "workflow_job.conclusion", "conclusion", false),
                f.time(job, "workflow_job.created_at", "created_at"),
                f.time(job, "workflow_job.started_at", "started_at"),
                f.time(job, "workflow_job.completed_at", "completed_at"),
                f.text(job, "workflow_job.head_sha", "head_sha", false),
                f.text(job, "workflow_job.head_branch", "head_branch", false),
                f.text(job, "workflow_job.html_url", "html_url", false));
    }

    /** Field readers whose errors name the event, the delivery and the field. */
    private record Fields(String event, String deliveryId) {
        WebhookException bad(String field, String problem) {
            return WebhookException.malformed("the " + event + " delivery " + deliveryId + " is malformed: " + field + " " + problem);
        }

        JsonNode object(JsonNode parent, String field) {
            return object(parent, field, field);
        }

        JsonNode object(JsonNode parent, String path, String field) {
            JsonNode node = parent.get(field);
            if (node == null || !node.isObject()) {
                throw bad(path, "is missing or not an object");
            }
            return node;
        }

        String text(JsonNode parent, String field, boolean required) {
            return text(parent, field, field, required);
        }

        String text(JsonNode parent, String path, String field, boolean required) {
            JsonNode node = parent.get(field);
            if (node == null || node.isNull()) {
                if (required) {
                    throw bad(path, "is missing");
                }
                return null;
            }
            if (!node.isTextual()) {
                throw bad(path, "is not a string");
            }
            if (node.asText().length() > MAX_TEXT) {
                throw bad(path, "is longer than " + MAX_TEXT + " characters");
            }
            return node.asText();
        }

        long id(JsonNode parent, String field, boolean required) {
            return id(parent, field, field, required);
        }

        long id(JsonNode parent, String path, String field, boolean required) {
            Long value = idOrNull(parent, path, field);
            if (value == null) {
                throw bad(path, "is missing");
            }
            return value;
        }

        Long idOrNull(JsonNode parent, String path, String field) {
            JsonNode node = parent.get(field);
            if (node == null || node.isNull()) {
                return null;
            }
            if (!node.canConvertToExactIntegral() || !node.canConvertToLong() || node.asLong() < 0) {
                throw bad(path, "is not a non-negative 64-bit integer");
            }
            return node.asLong();
        }

        Instant time(JsonNode parent, String path, String field) {
            String text = text(parent, path, field, false);
            if (text == null) {
                return null;
            }
            try {
                return OffsetDateTime.parse(text).toInstant();
            } catch (DateTimeParseException e) {
                throw bad(path, "'" + (text.length() > 40 ? text.substring(0, 40) : text) + "' is not an ISO 8601 date-time");
            }
        }
    }
}
