package dev.kiln.github;

/**
 * Memory for the bytes of deliveries whose signature is not checked yet: anyone can send them, so the
 * server bounds what all of them together may hold. {@link WebhookVerifier#readVerified} reserves as bytes
 * arrive (beyond a small allowance every delivery has, so a flood of large bodies never delays a normal
 * one) and releases when the body is verified or refused.
 */
public interface BodyMemory {
    /** No bound beyond each body's own (for tools and tests that read one delivery at a time). */
    BodyMemory UNBOUNDED = new BodyMemory() {
        @Override
        public void reserve(int bytes) {}

        @Override
        public void release(long bytes) {}
    };

    /**
     * Takes {@code bytes}, waiting while others hold the rest.
     *
     * @throws WebhookException 503 when none became free in time (or the wait was interrupted)
     */
    void reserve(int bytes);

    void release(long bytes);
}
