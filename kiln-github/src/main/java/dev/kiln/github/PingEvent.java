package dev.kiln.github;

/** {@code ping}: sent when the App's webhook is set up; answer 2xx. {@code appId} is null for a repository hook. */
public record PingEvent(String deliveryId, String zen, long hookId, Long appId) implements WebhookEvent {
    @Override
    public String event() {
        return "ping";
    }
}
