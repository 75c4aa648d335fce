package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.VmState;
import dev.kiln.core.JobState;
import dev.kiln.server.ControlPlane;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The launches page's data over the last 14 days: VM launches per hour and per day by outcome (for the chart), and
 * usage per repository and per organisation: jobs, VM-minutes, and the median and 95th percentile of queue wait (from
 * a job's first entry to its first placement; a job never placed does not count).
 */
final class LaunchesData {
    static final Duration SPAN = Duration.ofDays(14);
    /** Outcomes as the chart stacks them; {@code running}: the VM still holds room. */
    static final List<String> OUTCOMES = List.of("exited", "failed", "lost", "running");

    private final ControlPlane control;

    LaunchesData(ControlPlane control) {
        this.control = requireNonNull(control, "control is null");
    }

    /** Launches that started in the bucket from {@code start}, by outcome (in the order of {@link #OUTCOMES}). */
    record Bucket(String start, List<Long> counts) {}

    record Usage(String name, long jobs, double vmMinutes, Double queueWaitP50, Double queueWaitP95) {}

    record Launches(String now, List<String> outcomes, List<Bucket> hours, List<Bucket> days, List<Usage> repositories,
            List<Usage> organisations) {}

    Launches read() {
        long now = control.clock().millis();
        long since = now - SPAN.toMillis();
        record Vm(long createdAt, long updatedAt, String state, String org, String repo) {}
        record Waited(String org, String repo, Long waitedMs) {}
        List<Vm> vms = control.db().read(tx -> tx.query("SELECT v.created_at, v.updated_at, v.state, j.org, j.repo FROM vms v"
                + " JOIN jobs j ON j.id = v.job_id WHERE v.created_at >= ?", row -> new Vm(row.getLong(1), row.getLong(2),
                row.getString(3), row.getString(4), row.getString(5)), since));
        List<Waited> jobs = control.db().read(tx -> tx.query("SELECT j.org, j.repo, MIN(e.at) - j.created_at AS waited FROM jobs j"
                + " LEFT JOIN job_events e ON e.job_id = j.id AND e.state = ? WHERE j.created_at >= ?"
                + " GROUP BY j.id, j.org, j.repo, j.created_at", row -> new Waited(row.getString(1), row.getString(2),
                JobsData.longOrNull(row, "waited")),
                JobState.SCHEDULED, since));
        long hourStart = Instant.ofEpochMilli(now).truncatedTo(ChronoUnit.HOURS).toEpochMilli() - Duration.ofHours(14 * 24 - 1).toMillis();
        long dayStart = Instant.ofEpochMilli(now).truncatedTo(ChronoUnit.DAYS).toEpochMilli() - Duration.ofDays(13).toMillis();
        long[][] hours = new long[14 * 24][OUTCOMES.size()];
        long[][] days = new long[14][OUTCOMES.size()];
        Map<String, Counter> repos = new TreeMap<>();
        Map<String, Counter> orgs = new TreeMap<>();
        for (Vm vm : vms) {
            int outcome = outcome(vm.state());
            int hour = (int) ((vm.createdAt() - hourStart) / Duration.ofHours(1).toMillis());
            int day = (int) ((vm.createdAt() - dayStart) / Duration.ofDays(1).toMillis());
            if (vm.createdAt() >= hourStart && hour < hours.length) {
                hours[hour][outcome]++;
            }
            if (vm.createdAt() >= dayStart && day < days.length) {
                days[day][outcome]++;
            }
            long end = outcome == OUTCOMES.indexOf("running") ? now : vm.updatedAt();
            double minutes = Math.max(0, end - vm.createdAt()) / 60_000.0;
            repos.computeIfAbsent(vm.repo(), Counter::new).vmMinutes += minutes;
            orgs.computeIfAbsent(vm.org(), Counter::new).vmMinutes += minutes;
        }
        for (Waited job : jobs) {
            repos.computeIfAbsent(job.repo(), Counter::new).add(job.waitedMs());
            orgs.computeIfAbsent(job.org(), Counter::new).add(job.waitedMs());
        }
        return new Launches(Instant.ofEpochMilli(now).toString(), OUTCOMES, buckets(hours, hourStart, Duration.ofHours(1)),
                buckets(days, dayStart, Duration.ofDays(1)), usage(repos), usage(orgs));
    }

    private static int outcome(String vmState) {
        return switch (VmState.valueOf(vmState)) {
            case EXITED -> 0;
            case FAILED -> 1;
            case LOST -> 2;
            default -> 3;
        };
    }

    private static List<Bucket> buckets(long[][] counts, long start, Duration width) {
        List<Bucket> buckets = new ArrayList<>();
        for (int i = 0; i < counts.length; i++) {
            buckets.add(new Bucket(Instant.ofEpochMilli(start + i * width.toMillis()).toString(),
                    java.util.Arrays.stream(counts[i]).boxed().toList()));
        }
        return buckets;
    }

    /** One repository's or organisation's usage, as it is counted. */
    private static final class Counter {
        private final String name;
        private final List<Long> waits = new ArrayList<>();
        private long jobs;
        double vmMinutes;

        Counter(String name) {
            this.name = name;
        }

        void add(Long waitedMs) {
            jobs++;
            if (waitedMs != null) {
                waits.add(Math.max(0, waitedMs));
            }
        }

        Usage build() {
            waits.sort(null);
            return new Usage(name, jobs, Math.round(vmMinutes * 10) / 10.0, percentile(waits, 50), percentile(waits, 95));
        }
    }

    /** The nearest-rank percentile in seconds; null for no values. */
    static Double percentile(List<Long> sortedMs, int p) {
        if (sortedMs.isEmpty()) {
            return null;
        }
        int rank = (int) Math.ceil(p / 100.0 * sortedMs.size());
        return sortedMs.get(Math.max(0, rank - 1)) / 1000.0;
    }

    private static List<Usage> usage(Map<String, Counter> byName) {
        return byName.values().stream().map(Counter::build)
                .sorted(Comparator.comparingDouble(Usage::vmMinutes).reversed().thenComparing(Usage::name)).toList();
    }
}
