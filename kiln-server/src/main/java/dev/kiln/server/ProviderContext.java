package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.SizeLabels;
import java.time.Duration;
import java.time.InstantSource;
import java.util.function.UnaryOperator;

/**
 * What the server gives a provider as it makes it.
 *
 * @param db the store (the provider keeps its own tables there, created by its own migration)
 * @param clock the server's clock: every time the provider looks at comes from it
 * @param labels how labels (tags) name a job's size
 * @param imageDigests an image name to the digest launches carry (the name itself when the server has no images)
 * @param maxTimeout the longest a job may run: a runner VM's deadline is at most this
 * @param webhookMemory the budget of unverified webhook bodies shared by every provider's intake
 * @param webhookOutcomes where its intake counts each delivery's outcome (shown on {@code /metrics})
 * @param debugShells whether the server runs an SSH gateway: only then does a provider look up who may debug its
 *     jobs ({@link DebugAccess}), which costs a call to the provider per job
 */
public record ProviderContext(Database db, InstantSource clock, SizeLabels labels, UnaryOperator<String> imageDigests,
        Duration maxTimeout, DeliveryMemory webhookMemory, WebhookOutcomes webhookOutcomes, boolean debugShells) {
    public ProviderContext {
        requireNonNull(webhookOutcomes, "webhookOutcomes is null");
        requireNonNull(db, "db is null");
        requireNonNull(clock, "clock is null");
        requireNonNull(labels, "labels is null");
        requireNonNull(imageDigests, "imageDigests is null");
        requireNonNull(maxTimeout, "maxTimeout is null");
        requireNonNull(webhookMemory, "webhookMemory is null");
    }

    /**
     * A server without debugging shells, whose webhook outcomes are counted where nothing shows them (tests of a
     * provider alone).
     */
    public ProviderContext(Database db, InstantSource clock, SizeLabels labels, UnaryOperator<String> imageDigests,
            Duration maxTimeout, DeliveryMemory webhookMemory) {
        this(db, clock, labels, imageDigests, maxTimeout, webhookMemory, new WebhookOutcomes(), false);
    }
}
