package dev.kiln.github;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Parses a verified delivery into a {@link WebhookEvent}, reading only the fields Kiln uses. GitHub never
 * redelivers, so a verified delivery is refused (400, {@link WebhookException}) only when its headers do not
 * name an event or its body is not a JSON object; everything else is tolerated: extra fields, missing or
 * mistyped optional ones (read as absent), a {@code repository.full_name} that disagrees with
 * {@code owner.login}/{@code name}, and form-encoded bodies ({@link #payload}). A {@code workflow_job} that
 * lacks what Kiln needs to act (its id, a usable repository) becomes an {@link UnusableEvent} saying why.
 * Events and {@code workflow_job} actions Kiln does not know become an {@link OtherEvent}.
 */
public final class WebhookEvents {
    static final int MAX_LABELS = 100;
    static final int MAX_TEXT = 1024;
    /** GitHub's conclusions are short words; the store keeps 32 characters. */
    static final int MAX_CONCLUSION = 32;
    /** Runner names are at most 64 characters (the store's column); a longer one is no runner of Kiln's. */
    static final int MAX_RUNNER_NAME = 64;
    static final String FORM = "application/x-www-form-urlencoded";
    private static final Pattern EVENT = Pattern.compile("[a-z_]{1,64}");
    private static final Pattern DELIVERY = Pattern.compile("[A-Za-z0-9-]{1,100}");
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build());

    private WebhookEvents() {}

    /** Whether a {@code X-GitHub-Event} header names an event (else a delivery is refused with 400). */
    public static boolean isEventName(String event) {
        return event != null && EVENT.matcher(event).matches();
    }

    /** Whether a {@code X-GitHub-Delivery} header is a delivery id Kiln can key on. */
    public static boolean isDeliveryId(String deliveryId) {
        return deliveryId != null && DELIVERY.matcher(deliveryId).matches();
    }

    /**
     * The key of a verified delivery that came without a usable {@code X-GitHub-Delivery}: its body's digest, so that
     * it is still stored once.
     */
    public static String derivedId(byte[] body) {
        try {
            byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(body);
            return "body-sha256-" + java.util.HexFormat.of().formatHex(digest, 0, 20);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The JSON of a delivery: the body itself, or for a form-encoded delivery (a repository or organisation hook
     * whose content type is {@code form}) the value of its {@code payload} field. The signature covers the body
     * as sent, so this runs after {@link WebhookVerifier#verify}.
     *
     * @throws WebhookException 400 when a form-encoded body has no {@code payload} field
     */
    public static byte[] payload(String contentType, byte[] body) {
        if (contentType == null || !contentType.strip().toLowerCase(Locale.ROOT).startsWith(FORM)) {
            return body;
        }
        String form = new String(body, StandardCharsets.UTF_8);
        for (String field : form.split("&")) {
            int eq = field.indexOf('=');
            String name = eq < 0 ? field : field.substring(0, eq);
            if (decode(name).equals("payload")) {
                return decode(eq < 0 ? "" : field.substring(eq + 1)).getBytes(StandardCharsets.UTF_8);
            }
        }
        throw WebhookException.malformed("the delivery is form-encoded (" + FORM + ") but has no payload field;"
                + " GitHub sends the event's JSON as payload=…");
    }

    private static String decode(String text) {
        try {
            return java.net.URLDecoder.decode(text, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw WebhookException.malformed("the form-encoded delivery has a malformed %-escape");
        }
    }

    /**
     * @param event the {@code X-GitHub-Event} header
     * @param deliveryId the {@code X-GitHub-Delivery} header
     * @param body the JSON ({@link #payload}), already verified by {@link WebhookVerifier}
     * @throws WebhookException 400 when a header is malformed or the body is not a JSON object
     */
    public static WebhookEvent parse(String event, String deliveryId, byte[] body) {
        if (!isEventName(event)) {
            throw WebhookException.malformed("the X-GitHub-Event header is " + (event == null ? "missing" : "not an event name"));
        }
        if (!isDeliveryId(deliveryId)) {
            throw WebhookException.malformed("the X-GitHub-Delivery header is " + (deliveryId == null ? "missing" : "not a delivery id"));
        }
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null || e.getLocation().getLineNr() < 0 ? "nested too deeply or too large"
                    : "line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
            throw WebhookException.malformed("the " + event + " delivery " + deliveryId + " is not JSON (" + where + ")");
        } catch (IOException e) {
            throw WebhookException.malformed("the " + event + " delivery " + deliveryId + " cannot be read: " + e.getClass().getSimpleName());
        }
        if (root == null || !root.isObject()) {
            throw WebhookException.malformed("the " + event + " delivery " + deliveryId + " is not a JSON object");
        }
        return switch (event) {
            case "ping" -> new PingEvent(deliveryId, text(root, "zen", MAX_TEXT), id(root, "hook_id"), id(root.path("hook"), "app_id"));
            case "workflow_job" -> workflowJob(deliveryId, root);
            default -> new OtherEvent(deliveryId, event, text(root, "action", 64));
        };
    }

    private static WebhookEvent workflowJob(String deliveryId, JsonNode root) {
        String actionText = text(root, "action", 64);
        if (actionText == null) {
            return new UnusableEvent(deliveryId, "workflow_job", null, "action is missing or not a string");
        }
        WorkflowJobEvent.Action action;
        try {
            action = WorkflowJobEvent.Action.valueOf(actionText.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            return new OtherEvent(deliveryId, "workflow_job", actionText);
        }
        JsonNode job = root.path("workflow_job");
        Long jobId = id(job, "id");
        if (jobId == null) {
            return new UnusableEvent(deliveryId, "workflow_job", actionText,
                    "workflow_job.id is missing or not a non-negative 64-bit integer");
        }
        JsonNode repository = root.path("repository");
        String[] repo = repository(repository);
        if (repo == null) {
            return new UnusableEvent(deliveryId, "workflow_job", actionText, "repository has no owner and name GitHub allows"
                    + " (repository.owner.login and repository.name, or repository.full_name)");
        }
        List<String> labels = new ArrayList<>();
        JsonNode labelArray = job.path("labels");
        if (labelArray.isArray() && labelArray.size() > MAX_LABELS) {
            return new UnusableEvent(deliveryId, "workflow_job", actionText, "workflow_job.labels has " + labelArray.size()
                    + " labels; GitHub allows at most " + MAX_LABELS);
        }
        if (labelArray.isArray()) {
            // A label that is not a non-empty string cannot be one of Kiln's; the others still decide.
            for (JsonNode label : labelArray) {
                if (label.isTextual() && !label.asText().isEmpty() && label.asText().length() <= MAX_TEXT) {
                    labels.add(label.asText().replace('\0', '\uFFFD'));
                }
            }
        }
        JsonNode organization = root.path("organization");
        Long runAttempt = id(job, "run_attempt");
        String jobName = text(job, "name", MAX_TEXT);
        String runnerName = text(job, "runner_name", MAX_TEXT);
        Long repositoryId = id(repository, "id");
        Long runId = id(job, "run_id");
        return new WorkflowJobEvent(deliveryId, action, jobId, runId == null ? 0 : runId,
                runAttempt == null ? 1 : (int) Math.min(Integer.MAX_VALUE, runAttempt),
                jobName == null ? "(unnamed job)" : jobName,
                text(job, "workflow_name", MAX_TEXT),
                repositoryId == null ? 0 : repositoryId,
                repo[0], repo[1],
                text(organization, "login", MAX_TEXT),
                id(root.path("installation"), "id"),
                labels,
                id(job, "runner_id"),
                // Kept whole when it fits, so that Kiln's runners are recognised; a longer one is kept cut.
                runnerName == null || runnerName.length() <= MAX_RUNNER_NAME ? runnerName : runnerName.substring(0, MAX_RUNNER_NAME),
                id(job, "runner_group_id"),
                text(job, "runner_group_name", MAX_TEXT),
                action.wireName(),
                shorten(text(job, "conclusion", MAX_TEXT), MAX_CONCLUSION),
                time(job, "created_at"),
                time(job, "started_at"),
                time(job, "completed_at"),
                text(job, "head_sha", MAX_TEXT),
                text(job, "head_branch", MAX_TEXT),
                text(job, "html_url", MAX_TEXT),
                sender(root.path("sender")));
    }

    /** The {@code sender}'s login when it is a name GitHub allows (who may debug the job's VM), else null. */
    private static String sender(JsonNode sender) {
        String login = text(sender, "login", MAX_TEXT);
        return login != null && validOwner(login) ? login : null;
    }

    /**
     * Owner and name: {@code owner.login} and {@code name} when both are names GitHub allows (what the API's
     * paths take), else the two halves of {@code full_name}; null when neither gives a usable pair. Some of
     * GitHub's documented payloads carry a {@code full_name} that differs from {@code owner.login/name}.
     */
    private static String[] repository(JsonNode repository) {
        String login = text(repository.path("owner"), "login", MAX_TEXT);
        String name = text(repository, "name", MAX_TEXT);
        if (validOwner(login) && validRepo(name)) {
            return new String[] {login, name};
        }
        String fullName = text(repository, "full_name", MAX_TEXT);
        int slash = fullName == null ? -1 : fullName.indexOf('/');
        if (slash > 0) {
            String owner = fullName.substring(0, slash);
            String repo = fullName.substring(slash + 1);
            if (validOwner(owner) && validRepo(repo)) {
                return new String[] {owner, repo};
            }
        }
        return null;
    }

    private static boolean validOwner(String owner) {
        try {
            Names.checkOwner(owner);
            return true;
        } catch (dev.kiln.core.KilnException e) {
            return false;
        }
    }

    private static boolean validRepo(String repo) {
        try {
            Names.checkRepo(repo);
            return true;
        } catch (dev.kiln.core.KilnException e) {
            return false;
        }
    }

    /**
     * A string field, or null when it is absent, not a string or longer than {@code max}. A NUL (JSON allows
     * U+0000 escaped; no name or label of GitHub's has one, and PostgreSQL's text refuses it) becomes U+FFFD.
     */
    private static String text(JsonNode parent, String field, int max) {
        JsonNode node = parent.get(field);
        if (node == null || !node.isTextual() || node.asText().length() > max) {
            return null;
        }
        return node.asText().replace('\0', '\uFFFD');
    }

    private static String shorten(String text, int max) {
        return text == null || text.length() <= max ? text : text.substring(0, max);
    }

    /** A non-negative 64-bit integer (also written as a string of digits), or null. */
    private static Long id(JsonNode parent, String field) {
        JsonNode node = parent.get(field);
        if (node == null) {
            return null;
        }
        if (node.isTextual() && node.asText().matches("[0-9]{1,18}")) {
            return Long.parseLong(node.asText());
        }
        if (node.isNumber() && node.canConvertToExactIntegral() && node.canConvertToLong() && node.asLong() >= 0) {
            return node.asLong();
        }
        return null;
    }

    /** An ISO 8601 date-time, or null when absent or unreadable. */
    private static Instant time(JsonNode parent, String field) {
        String text = text(parent, field, 64);
        if (text == null) {
            return null;
        }
        try {
            return OffsetDateTime.parse(text).toInstant();
        } catch (DateTimeParseException e) {
            return null;
        }
    }
}
