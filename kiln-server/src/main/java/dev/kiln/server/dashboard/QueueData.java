package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.HostView;
import dev.kiln.core.JobState;
import dev.kiln.server.ControlPlane;
import java.time.Instant;
import java.util.List;

/** The queue page's data: the queued jobs in the order the scheduler takes them, how long each waited, and why. */
final class QueueData {
    static final int SHOWN = 500;

    private final ControlPlane control;

    QueueData(ControlPlane control) {
        this.control = requireNonNull(control, "control is null");
    }

    record Row(String id, String kind, String org, String repo, List<String> labels, int cpus, long memoryMib, String arch,
            String queuedAt, long waitedSeconds, String why) {}

    record Queue(String now, long total, List<Row> jobs) {}

    Queue read() {
        long now = control.clock().millis();
        List<HostView> hosts = control.hosts();
        record Queued(String id, String kind, String labels, long queuedAt, QueueWords.Waiting waiting) {}
        List<Queued> queued = control.db().read(tx -> tx.query("SELECT id, kind, org, repo, labels, cpus, memory_mib, arch,"
                + " detail, not_before, queued_at FROM jobs WHERE state = ? ORDER BY priority DESC, seq LIMIT " + SHOWN,
                row -> new Queued(row.getString("id"), row.getString("kind"), row.getString("labels"), row.getLong("queued_at"),
                        new QueueWords.Waiting(row.getString("org"), row.getString("repo"), row.getInt("cpus"),
                                row.getLong("memory_mib"), row.getString("arch"), row.getString("detail"),
                                JobsData.longOrNull(row, "not_before"))), JobState.QUEUED));
        long total = queued.size() < SHOWN ? queued.size()
                : control.db().read(tx -> tx.queryLong("SELECT COUNT(*) FROM jobs WHERE state = ?", JobState.QUEUED));
        List<Row> rows = queued.stream().map(q -> new Row(q.id(), q.kind(), q.waiting().org(), q.waiting().repo(),
                JobsData.labels(q.labels()), q.waiting().cpus(), q.waiting().memoryMib(), q.waiting().arch(),
                Instant.ofEpochMilli(q.queuedAt()).toString(), Math.max(0, (now - q.queuedAt()) / 1000),
                QueueWords.why(q.waiting(), control.waitReasons().of(q.id()).orElse(null), hosts, now))).toList();
        return new Queue(Instant.ofEpochMilli(now).toString(), total, rows);
    }
}
