package dev.kiln.testkit.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The fake's webhook (ci-protocols.md §6.4): posts each event's JSON with {@code X-Gitlab-Event},
 * {@code X-Gitlab-Token} (the secret verbatim, when one is set), {@code X-Gitlab-Event-UUID},
 * {@code X-Gitlab-Webhook-UUID} (new for every request), {@code X-Gitlab-Instance} and {@code Idempotency-Key}
 * (the same for every attempt of one event), a 10 s timeout, one at a time in order, on its own thread.
 *
 * <p>As GitLab does, a hook that fails 4 times in a row is disabled: after a 4xx until re-enabled by hand
 * ({@link #reenable}); after a 5xx or no answer for 1 minute, doubling up to 24 hours, on the fake's clock.
 * Events while disabled are logged as not sent. Faults: drop the next events, duplicate them (a second
 * request with the same {@code Idempotency-Key} and event UUID, as a retry looks). Thread-safe.
 */
public final class FakeGitLabHooks implements AutoCloseable {
    public static final int DROPPED = -1;
    public static final int DISABLED = -3;
    public static final String USER_AGENT = "GitLab/17.6.0-fake";
    static final int FAILURES_BEFORE_DISABLE = 4;

    /**
     * One request as the hook's log keeps it. {@code status} is the receiver's HTTP status, 0 when it could
     * not be reached, {@link #DROPPED} when dropped on purpose, {@link #DISABLED} while the hook was disabled.
     */
    public record Delivery(String event, String idempotencyKey, String webhookUuid, byte[] body, int status) {
        public String bodyText() {
            return new String(body, UTF_8);
        }
    }

    private record Pending(String event, String idempotencyKey, byte[] body) {}

    private final InstantSource clock;
    private final String instance;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
        Thread thread = new Thread(r, "fake-gitlab-hooks");
        thread.setDaemon(true);
        return thread;
    });
    private final Object lock = new Object();
    // guarded by lock
    private URI target;
    private String secret;
    private int dropNext;
    private int duplicateNext;
    private int inFlight;
    private int failures;
    private boolean disabledForGood;
    private Instant disabledUntil = Instant.MIN;
    private Duration disablePeriod = Duration.ofMinutes(1);
    private final List<Delivery> log = new ArrayList<>();

    FakeGitLabHooks(InstantSource clock, String instance) {
        this.clock = clock;
        this.instance = instance;
    }

    /** Where events go and the secret token sent with them (null: no {@code X-Gitlab-Token}); until then events are logged unsent. */
    public void sendTo(URI target, String secret) {
        synchronized (lock) {
            this.target = target;
            this.secret = secret;
        }
    }

    public void dropNext(int count) {
        synchronized (lock) {
            dropNext += count;
        }
    }

    /** The next {@code count} events are each sent twice, with one Idempotency-Key and two webhook UUIDs. */
    public void duplicateNext(int count) {
        synchronized (lock) {
            duplicateNext += count;
        }
    }

    /** Turns a disabled hook back on, as a maintainer does in the project's settings. */
    public void reenable() {
        synchronized (lock) {
            failures = 0;
            disabledForGood = false;
            disabledUntil = Instant.MIN;
            disablePeriod = Duration.ofMinutes(1);
        }
    }

    /** Whether GitLab would send an event now. */
    public boolean enabled() {
        synchronized (lock) {
            return !disabledForGood && !clock.instant().isBefore(disabledUntil);
        }
    }

    /** The log, oldest first. */
    public List<Delivery> deliveries() {
        synchronized (lock) {
            return List.copyOf(log);
        }
    }

    /** Whether every event made so far has been sent (or dropped). */
    public boolean idle() {
        synchronized (lock) {
            return inFlight == 0;
        }
    }

    void emit(String event, byte[] body) {
        Pending pending = new Pending(event, UUID.randomUUID().toString(), body);
        int copies = 1;
        synchronized (lock) {
            if (dropNext > 0) {
                dropNext--;
                log.add(new Delivery(event, pending.idempotencyKey(), null, body, DROPPED));
                return;
            }
            if (duplicateNext > 0) {
                duplicateNext--;
                copies = 2;
            }
            inFlight += copies;
        }
        for (int i = 0; i < copies; i++) {
            sender.execute(() -> {
                try {
                    deliver(pending);
                } finally {
                    synchronized (lock) {
                        inFlight--;
                    }
                }
            });
        }
    }

    private void deliver(Pending pending) {
        URI to;
        String token;
        synchronized (lock) {
            to = target;
            token = secret;
            if (disabledForGood || clock.instant().isBefore(disabledUntil)) {
                log.add(new Delivery(pending.event(), pending.idempotencyKey(), null, pending.body(), DISABLED));
                return;
            }
        }
        String webhookUuid = UUID.randomUUID().toString();
        int status = 0;
        if (to != null) {
            HttpRequest.Builder request = HttpRequest.newBuilder(to).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", "application/json")
                    .header("User-Agent", USER_AGENT)
                    .header("X-Gitlab-Event", pending.event())
                    .header("X-Gitlab-Event-UUID", pending.idempotencyKey())
                    .header("X-Gitlab-Webhook-UUID", webhookUuid)
                    .header("X-Gitlab-Instance", instance)
                    .header("Idempotency-Key", pending.idempotencyKey())
                    .POST(HttpRequest.BodyPublishers.ofByteArray(pending.body()));
            if (token != null) {
                request.header("X-Gitlab-Token", token);
            }
            try {
                status = http.send(request.build(), HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException e) {
                status = 0;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (lock) {
            log.add(new Delivery(pending.event(), pending.idempotencyKey(), webhookUuid, pending.body(), status));
            if (to == null) {
                return;
            }
            if (status / 100 == 2) {
                failures = 0;
                disablePeriod = Duration.ofMinutes(1);
            } else if (++failures >= FAILURES_BEFORE_DISABLE) {
                if (status >= 400 && status < 500) {
                    disabledForGood = true;
                } else {
                    disabledUntil = clock.instant().plus(disablePeriod);
                    Duration doubled = disablePeriod.multipliedBy(2);
                    disablePeriod = doubled.compareTo(Duration.ofHours(24)) > 0 ? Duration.ofHours(24) : doubled;
                }
            }
        }
    }

    @Override
    public void close() {
        sender.shutdownNow();
        try {
            if (!sender.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the fake GitLab's hook sender did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
