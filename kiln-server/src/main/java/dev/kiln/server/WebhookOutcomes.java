package dev.kiln.server;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Webhook deliveries this server took, by provider and outcome, for {@code /metrics}. Counted where the intake
 * decides, in this process (a counter per replica, as Prometheus sums them): the outcomes are a fixed set, so the
 * label set stays bounded whatever is delivered. Thread-safe.
 */
public final class WebhookOutcomes {
    /** What became of a delivery. */
    public enum Outcome {
        /** Stored and acted on (a demand made, a job concluded…). */
        ACCEPTED,
        /** Seen before (by its delivery id or key): ignored. */
        DUPLICATE,
        /** Stored, but of an event or action Kiln does not act on, or that it cannot act on. */
        IGNORED,
        /** GitHub's ping of the App's hook. */
        PING,
        /** Refused before its body was kept: no, or a wrong, signature or token. */
        BAD_SIGNATURE,
        /** Refused: its body is larger than the intake takes. */
        TOO_LARGE,
        /** Refused before its body was read: the intake's budget of unverified bodies was spent (the sender retries). */
        BUSY,
        /** Stored but refused: not JSON, or not the shape of its event. */
        INVALID,
        /** Refused for what it says: a ping from another App's hook, a wrong method or path. */
        REFUSED,
        /** Stored; acting on it failed and is retried by the provider's loop (or storing it failed: the sender retries). */
        FAILED;

        String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private final Map<String, Map<Outcome, LongAdder>> counts = new ConcurrentHashMap<>();

    public void count(String provider, Outcome outcome) {
        counts.computeIfAbsent(provider, p -> new ConcurrentHashMap<>()).computeIfAbsent(outcome, o -> new LongAdder())
                .increment();
    }

    /** Each provider that got a delivery, to each outcome's count (0 for outcomes it never had). */
    Map<String, Map<Outcome, Long>> snapshot() {
        Map<String, Map<Outcome, Long>> snapshot = new TreeMap<>();
        counts.forEach((provider, byOutcome) -> {
            Map<Outcome, Long> values = new java.util.EnumMap<>(Outcome.class);
            for (Outcome outcome : Outcome.values()) {
                LongAdder count = byOutcome.get(outcome);
                values.put(outcome, count == null ? 0 : count.sum());
            }
            snapshot.put(provider, values);
        });
        return snapshot;
    }

    /** Makes sure the provider is shown (with zeros) before its first delivery. */
    void known(String provider) {
        counts.computeIfAbsent(provider, p -> new ConcurrentHashMap<>());
    }
}
