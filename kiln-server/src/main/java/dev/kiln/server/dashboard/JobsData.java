package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.JobView;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobState;
import dev.kiln.core.KilnException;
import dev.kiln.server.ControlPlane;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The jobs page's data: the newest jobs first, filtered by state, repository, label and host, a page at a time. Pages
 * are cut by the job's sequence number ({@code before}), so that page 100 costs what page 1 does and a job submitted
 * meanwhile shifts nothing.
 */
final class JobsData {
    static final int PAGE = 50;

    private final ControlPlane control;

    JobsData(ControlPlane control) {
        this.control = requireNonNull(control, "control is null");
    }

    /** What the page asks for; every field may be null (no filter). */
    record Filter(JobState state, String repo, String label, String host, Long before) {
        static Filter of(Web web) {
            String state = web.query("state");
            return new Filter(state == null ? null : JobsData.state(state), web.query("repo"), web.query("label"), web.query("host"),
                    web.query("before") == null ? null : web.queryLong("before", 0, 1, Long.MAX_VALUE));
        }
    }

    record Row(String id, long seq, JobState state, String kind, String repo, String name, List<String> labels, String host,
            String vm, int cpus, long memoryMib, String arch, Integer exitCode, String createdAt, String updatedAt) {}

    /** A page of jobs; {@code next}: the {@code before} of the next page, null on the last. */
    record Page(long total, List<Row> jobs, Long next) {}

    Page read(Filter filter) {
        StringBuilder where = new StringBuilder(" WHERE 1 = 1");
        List<Object> args = new ArrayList<>();
        if (filter.state() != null) {
            where.append(" AND state = ?");
            args.add(filter.state());
        }
        if (filter.repo() != null) {
            where.append(" AND repo = ?");
            args.add(filter.repo());
        }
        if (filter.host() != null) {
            where.append(" AND host = ?");
            args.add(filter.host());
        }
        if (filter.label() != null) {
            where.append(" AND labels LIKE ?");
            args.add("%," + filter.label().replace("\\", "").replace("%", "").replace("_", "\\_") + ",%");
            where.append(" ESCAPE '\\'");
        }
        record Found(String id, long seq, String labels) {}
        List<Object> pageArgs = new ArrayList<>(args);
        String page = where.toString();
        if (filter.before() != null) {
            page += " AND seq < ?";
            pageArgs.add(filter.before());
        }
        String sql = "SELECT id, seq, labels FROM jobs" + page + " ORDER BY seq DESC LIMIT " + (PAGE + 1);
        List<Found> found = control.db().read(tx -> tx.query(sql,
                row -> new Found(row.getString("id"), row.getLong("seq"), row.getString("labels")), pageArgs.toArray()));
        long total = control.db().read(tx -> tx.queryLong("SELECT COUNT(*) FROM jobs" + where, args.toArray()));
        List<Found> shown = found.size() > PAGE ? found.subList(0, PAGE) : found;
        List<JobView> views = control.describe(shown.stream().map(Found::id).toList());
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < views.size(); i++) {
            JobView job = views.get(i);
            Found f = shown.stream().filter(s -> s.id().equals(job.id())).findFirst().orElseThrow();
            rows.add(new Row(job.id(), f.seq(), job.state(), job.kind(), job.repo(), name(job), labels(f.labels()), job.host(),
                    job.vm(), job.cpus(), job.memoryMib(), job.arch(), job.exitCode(), job.createdAt(), job.updatedAt()));
        }
        return new Page(total, rows, found.size() > PAGE ? shown.getLast().seq() : null);
    }

    /** What the job is called: a GitHub job's workflow and name, a command's words. */
    static String name(JobView job) {
        if (job.github() != null) {
            return (job.github().workflow() == null ? "" : job.github().workflow() + " / ")
                    + (job.github().jobName() == null ? "" : job.github().jobName());
        }
        if (job.command() != null && !job.command().isEmpty()) {
            String words = String.join(" ", job.command());
            return words.length() > 200 ? words.substring(0, 200) + "…" : words;
        }
        return job.kind() + " job";
    }

    static List<String> labels(String stored) {
        return stored == null || stored.isEmpty() ? List.of()
                : Arrays.stream(stored.split(",")).filter(s -> !s.isEmpty()).toList();
    }

    static Long longOrNull(ResultSet row, String column) throws SQLException {
        long value = row.getLong(column);
        return row.wasNull() ? null : value;
    }

    static JobState state(String name) {
        try {
            return JobState.valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + (name.length() > 20 ? name.substring(0, 20) : name)
                    + "' is not a job state; states are " + Arrays.toString(JobState.values()));
        }
    }
}
