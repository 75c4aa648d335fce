package dev.kiln.gitlab;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.util.Optional;

/**
 * Reads a verified hook for only the fields Kiln uses. Tolerant of what GitLab documents and varies (ids as
 * numbers or numeric strings, a {@code runner} that is null or absent, a {@code project} object or only
 * {@code project_id}, extra fields, other events); strict about what is truly invalid: a body that is not a
 * JSON object is refused (400), and a Job Hook without a usable {@code build_id}, {@code project_id} or
 * {@code build_status} is reported as unusable with the reason, so the server can keep and answer it.
 */
public final class JobHooks {
    /** The event header of the hooks Kiln reads. */
    public static final String JOB_HOOK = "Job Hook";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A hook's reading: a Job Hook, or why it is not one Kiln can use. */
    public sealed interface Reading permits Job, Ignored {}

    public record Job(JobHook hook) implements Reading {}

    /** Not a job Kiln can act on: another event, or a Job Hook lacking what Kiln needs ({@code reason} says which). */
    public record Ignored(String reason) implements Reading {}

    private JobHooks() {}

    /**
     * @param event the {@code X-Gitlab-Event} header (may be null)
     * @throws KilnException {@link ErrorCode#INVALID_ARGUMENT} when the body is not a JSON object
     */
    public static Reading read(String event, byte[] body) {
        JsonNode root;
        try {
            root = JSON.readTree(body);
        } catch (JsonProcessingException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the hook's body is not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the hook's body cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the hook's body is not a JSON object");
        }
        String kind = root.path("object_kind").asText("");
        if (!JOB_HOOK.equals(event) && !kind.equals("build")) {
            return new Ignored("event " + (event == null ? "(no X-Gitlab-Event)" : "'" + shorten(event) + "'") + " is not a Job Hook");
        }
        if (!kind.equals("build")) {
            return new Ignored("a Job Hook's object_kind is 'build', this one's is '" + shorten(kind) + "'");
        }
        Optional<Long> build = id(root.get("build_id"));
        Optional<Long> project = id(root.get("project_id")).or(() -> id(root.path("project").get("id")));
        JsonNode status = root.get("build_status");
        if (build.isEmpty() || project.isEmpty() || status == null || !status.isTextual() || status.asText().isBlank()) {
            return new Ignored("the Job Hook lacks " + (build.isEmpty() ? "a build_id" : project.isEmpty() ? "a project_id" : "a build_status")
                    + " Kiln can read");
        }
        JsonNode path = root.path("project").get("path_with_namespace");
        JsonNode runner = root.get("runner");
        Long runnerId = runner != null && runner.isObject() ? id(runner.get("id")).orElse(null) : null;
        return new Job(new JobHook(build.get(), project.get(), path != null && path.isTextual() ? path.asText() : null,
                status.asText(), root.path("build_name").asText(""), runnerId));
    }

    /** A positive id, as a JSON number or a numeric string. */
    private static Optional<Long> id(JsonNode node) {
        if (node == null) {
            return Optional.empty();
        }
        if (node.isIntegralNumber() && node.canConvertToLong() && node.asLong() > 0) {
            return Optional.of(node.asLong());
        }
        if (node.isTextual() && node.asText().matches("[1-9][0-9]{0,17}")) {
            return Optional.of(Long.parseLong(node.asText()));
        }
        return Optional.empty();
    }

    private static String shorten(String text) {
        return text.length() <= 40 ? text : text.substring(0, 40) + "…";
    }
}
