package dev.kiln.server;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Wakes threads waiting for a topic to change: a host's desired VMs ({@code host:NAME}), any job
 * ({@code job:ID}; all jobs share one topic, as few clients follow jobs), the queue ({@link #SCHEDULE}).
 * A waiter reads {@link #version} before it checks the store, then waits for the version to move, so
 * no change slips between check and wait. Guarded by one lock; each topic has its own condition, so a
 * signal wakes only that topic's waiters.
 */
final class Signals {
    static final String SCHEDULE = "schedule";
    /** Signalled by a replica that may have missed notifications: every waiter re-checks. */
    static final String ALL = "*";
    private static final String JOBS = "jobs";

    private final ReentrantLock lock = new ReentrantLock();
    private final Map<String, Topic> topics = new HashMap<>();

    private static final class Topic {
        final Condition changed;
        long version;

        Topic(Condition changed) {
            this.changed = changed;
        }
    }

    static String host(String name) {
        return "host:" + name;
    }

    static String job(String id) {
        return "job:" + id;
    }

    long version(String name) {
        lock.lock();
        try {
            return topic(name).version;
        } finally {
            lock.unlock();
        }
    }

    void signal(Collection<String> changed) {
        if (changed.isEmpty()) {
            return;
        }
        lock.lock();
        try {
            for (String name : changed) {
                if (ALL.equals(name)) {
                    for (Topic topic : topics.values()) {
                        topic.version++;
                        topic.changed.signalAll();
                    }
                    continue;
                }
                Topic topic = topic(name);
                topic.version++;
                topic.changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits until the topic's version differs from {@code seen} or the timeout passes; true if it moved. */
    boolean await(String name, long seen, Duration timeout) throws InterruptedException {
        long nanos = timeout.toNanos();
        lock.lock();
        try {
            Topic topic = topic(name);
            while (topic.version == seen) {
                if (nanos <= 0) {
                    return false;
                }
                nanos = topic.changed.awaitNanos(nanos);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock. Host topics live as long as the process; there are as many as hosts. */
    private Topic topic(String name) {
        String key = name.startsWith("job:") ? JOBS : name;
        return topics.computeIfAbsent(key, k -> new Topic(lock.newCondition()));
    }
}
