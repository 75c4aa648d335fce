package dev.kiln.testkit.github;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The fake's webhook emitter (ci-protocols.md §1.1, §7.6): signs the raw body with the secret, sets
 * GitHub's headers, posts with a 10 s timeout and never retries. Deliveries go out one at a time in the
 * order they were made, on the emitter's own thread. Faults: drop, delay, duplicate (a new GUID), hold and
 * release in reverse order (reorder), and redeliver (same GUID). Thread-safe.
 */
public final class FakeWebhooks implements AutoCloseable {
    /**
     * One attempt as the fake's delivery log keeps it. {@code status} is the receiver's HTTP status, 0 when
     * it could not be reached, -1 when the delivery was dropped on purpose, -2 while held.
     */
    public record Delivery(String guid, String event, String action, byte[] body, int status, boolean redelivery) {
        public String bodyText() {
            return new String(body, UTF_8);
        }
    }

    private record Pending(String guid, String event, String action, byte[] body, boolean redelivery) {}

    private final long hookId;
    private final long appId;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ExecutorService sender = Executors.newSingleThreadExecutor(r -> {
        Thread thread = new Thread(r, "fake-github-webhooks");
        thread.setDaemon(true);
        return thread;
    });
    private final Object lock = new Object();
    // guarded by lock
    private URI target;
    private byte[] secret;
    private int dropNext;
    private int duplicateNext;
    private int holdNext;
    private Duration delay = Duration.ZERO;
    private int delayNext;
    private int inFlight;
    private boolean form;
    private final Deque<Pending> held = new ArrayDeque<>();
    private final List<Delivery> log = new ArrayList<>();

    FakeWebhooks(long hookId, long appId) {
        this.hookId = hookId;
        this.appId = appId;
    }

    /** Where deliveries go and the secret they are signed with; until then events are recorded as unsent. */
    public void sendTo(URI target, String secret) {
        synchronized (lock) {
            this.target = target;
            this.secret = secret.getBytes(UTF_8);
        }
    }

    /**
     * Deliveries go form-encoded, as a hook whose content type is {@code form} sends them: the body is
     * {@code payload=<the JSON, URL-encoded>} with {@code Content-Type: application/x-www-form-urlencoded}, and the
     * signature covers that body (ci-protocols.md §1.1).
     */
    public void formEncoded(boolean on) {
        synchronized (lock) {
            form = on;
        }
    }

    public void dropNext(int count) {
        synchronized (lock) {
            dropNext += count;
        }
    }

    /** The next {@code count} events are each delivered twice, the copy with a new GUID (as GitHub has been seen to). */
    public void duplicateNext(int count) {
        synchronized (lock) {
            duplicateNext += count;
        }
    }

    /** The next {@code count} events are held back until {@link #releaseHeld}. */
    public void holdNext(int count) {
        synchronized (lock) {
            holdNext += count;
        }
    }

    /** The next {@code count} deliveries wait {@code delay} before they are sent (blocking later ones, as a lagging GitHub does). */
    public void delayNext(int count, Duration delay) {
        synchronized (lock) {
            this.delay = delay;
            delayNext += count;
        }
    }

    /** Sends what was held, newest first when {@code reversed} (so that, say, completed arrives before queued). */
    public void releaseHeld(boolean reversed) {
        List<Pending> release;
        synchronized (lock) {
            release = new ArrayList<>(held);
            held.clear();
        }
        if (reversed) {
            Collections.reverse(release);
        }
        release.forEach(this::enqueue);
    }

    /** Sends an earlier delivery again with the same GUID, as GitHub's redelivery does. */
    public void redeliver(String guid) {
        Delivery original;
        synchronized (lock) {
            original = log.stream().filter(d -> d.guid().equals(guid)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no delivery " + guid + " in the fake's log"));
        }
        enqueue(new Pending(guid, original.event(), original.action(), original.body(), true));
    }

    /** The delivery log, oldest first. */
    public List<Delivery> deliveries() {
        synchronized (lock) {
            return List.copyOf(log);
        }
    }

    /** Whether every event made so far has been sent (or dropped, or held). */
    public boolean idle() {
        synchronized (lock) {
            return inFlight == 0;
        }
    }

    void emit(String event, String action, byte[] body) {
        Pending pending = new Pending(UUID.randomUUID().toString(), event, action, body, false);
        boolean duplicate;
        synchronized (lock) {
            if (dropNext > 0) {
                dropNext--;
                log.add(new Delivery(pending.guid(), event, action, body, -1, false));
                return;
            }
            if (holdNext > 0) {
                holdNext--;
                held.add(pending);
                return;
            }
            duplicate = duplicateNext > 0;
            if (duplicate) {
                duplicateNext--;
            }
        }
        enqueue(pending);
        if (duplicate) {
            enqueue(new Pending(UUID.randomUUID().toString(), event, action, body, false));
        }
    }

    private void enqueue(Pending pending) {
        synchronized (lock) {
            inFlight++;
        }
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

    private void deliver(Pending pending) {
        URI to;
        byte[] key;
        Duration wait = Duration.ZERO;
        boolean asForm;
        synchronized (lock) {
            to = target;
            key = secret;
            asForm = form;
            if (delayNext > 0) {
                delayNext--;
                wait = delay;
            }
        }
        if (!wait.isZero()) {
            try {
                Thread.sleep(wait);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        int status = 0;
        if (to != null) {
            byte[] body = asForm ? ("payload=" + java.net.URLEncoder.encode(new String(pending.body(), UTF_8), UTF_8)).getBytes(UTF_8)
                    : pending.body();
            HttpRequest request = HttpRequest.newBuilder(to).timeout(Duration.ofSeconds(10))
                    .header("Content-Type", asForm ? "application/x-www-form-urlencoded" : "application/json")
                    .header("User-Agent", "GitHub-Hookshot/fake")
                    .header("X-GitHub-Event", pending.event())
                    .header("X-GitHub-Delivery", pending.guid())
                    .header("X-GitHub-Hook-ID", Long.toString(hookId))
                    .header("X-GitHub-Hook-Installation-Target-Type", "integration")
                    .header("X-GitHub-Hook-Installation-Target-ID", Long.toString(appId))
                    .header("X-Hub-Signature-256", sign(key, body))
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
            try {
                status = http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
            } catch (IOException e) {
                status = 0; // recorded as a failed delivery; GitHub does not retry
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (lock) {
            log.add(new Delivery(pending.guid(), pending.event(), pending.action(), pending.body(), status, pending.redelivery()));
        }
    }

    static String sign(byte[] key, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is not available", e);
        }
    }

    @Override
    public void close() {
        sender.shutdownNow();
        try {
            if (!sender.awaitTermination(10, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the fake's webhook sender did not stop within 10 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
