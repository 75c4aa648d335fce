package dev.kiln.github;

/**
 * A verified delivery of an event Kiln acts on whose body lacks what Kiln needs to act (a {@code workflow_job}
 * without a job id, a repository without a usable owner or name…). It is stored and acknowledged with 2xx, as
 * GitHub never redelivers: {@code reason} says what was missing, for the stored outcome and the answer.
 */
public record UnusableEvent(String deliveryId, String event, String action, String reason) implements WebhookEvent {}
