package dev.kiln.github;

/**
 * {@code ping}: sent when a webhook is set up. {@code appId} is the App whose hook sent it (null for a
 * repository or organisation hook); {@code hookId} and {@code zen} are null when the body lacks them.
 */
public record PingEvent(String deliveryId, String zen, Long hookId, Long appId) implements WebhookEvent {
    @Override
    public String event() {
        return "ping";
    }
}
