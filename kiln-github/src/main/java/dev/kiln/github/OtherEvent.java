package dev.kiln.github;

/**
 * An event Kiln does not act on (another event name, or a {@code workflow_job} action GitHub added
 * later): recognised, acknowledged with 2xx, not an error. {@code action} is null when the body has none.
 */
public record OtherEvent(String deliveryId, String event, String action) implements WebhookEvent {}
