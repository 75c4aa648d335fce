package dev.kiln.github;

/** A parsed GitHub webhook delivery. Dedupe on {@link #deliveryId()} ({@code X-GitHub-Delivery}). */
public sealed interface WebhookEvent permits WorkflowJobEvent, PingEvent, OtherEvent, UnusableEvent {
    String deliveryId();

    /** The {@code X-GitHub-Event} name. */
    String event();
}
