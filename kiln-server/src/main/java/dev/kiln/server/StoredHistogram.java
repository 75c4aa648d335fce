package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A histogram counted in the store at each scrape, as the other counts of {@code /metrics} are: every replica answers
 * the same, and nothing is lost when one restarts. One query: per label value, the count, the sum and how many are
 * at most each bound (so the scrape costs one aggregate, not one row per VM).
 */
final class StoredHistogram implements Collector {
    private final Database db;
    private final String name;
    private final String help;
    private final String label;
    private final List<String> labelValues;
    private final double[] bounds;
    private final String sql;

    /**
     * @param from a FROM clause (with WHERE) whose rows carry a column {@code ms} and, when {@code label} is not null,
     *     a column {@code label}
     * @param labelValues the label values shown (each, with zeros when none was counted); a value outside them is not:
     *     the label set stays bounded whatever the rows hold
     */
    StoredHistogram(Database db, String name, String help, String label, List<String> labelValues, String from,
            double... bounds) {
        this.db = requireNonNull(db, "db is null");
        this.name = requireNonNull(name, "name is null");
        this.help = requireNonNull(help, "help is null");
        this.label = label;
        this.labelValues = List.copyOf(labelValues);
        this.bounds = bounds.clone();
        StringBuilder select = new StringBuilder("SELECT ").append(label == null ? "''" : "label")
                .append(", COUNT(*), COALESCE(SUM(ms), 0)");
        for (double bound : bounds) {
            select.append(", SUM(CASE WHEN ms <= ").append(Math.round(bound * 1000)).append(" THEN 1 ELSE 0 END)");
        }
        this.sql = select.append(" FROM ").append(requireNonNull(from, "from is null"))
                .append(label == null ? "" : " GROUP BY label").toString();
    }

    @Override
    public MetricSnapshot collect() {
        Map<String, long[]> rows = db.read(tx -> {
            Map<String, long[]> read = new TreeMap<>();
            tx.query(sql, row -> {
                long[] values = new long[2 + bounds.length];
                for (int i = 0; i < values.length; i++) {
                    values[i] = row.getLong(i + 2);
                }
                read.put(row.getString(1), values);
                return null;
            });
            return read;
        });
        HistogramSnapshot.Builder snapshot = HistogramSnapshot.builder().name(name).help(help);
        List<String> shown = label == null ? List.of("") : labelValues;
        for (String value : shown) {
            long[] counted = rows.getOrDefault(value, new long[2 + bounds.length]);
            double[] upper = new double[bounds.length + 1];
            long[] inBucket = new long[bounds.length + 1];
            long below = 0;
            for (int i = 0; i < bounds.length; i++) {
                upper[i] = bounds[i];
                inBucket[i] = counted[2 + i] - below; // the store counts at-most-bound; a bucket holds the difference
                below = counted[2 + i];
            }
            upper[bounds.length] = Double.POSITIVE_INFINITY;
            inBucket[bounds.length] = counted[0] - below;
            var point = HistogramSnapshot.HistogramDataPointSnapshot.builder()
                    .classicHistogramBuckets(ClassicHistogramBuckets.of(upper, inBucket)).sum(counted[1] / 1000.0);
            if (label != null) {
                point.labels(Labels.of(label, value));
            }
            snapshot.dataPoint(point.build());
        }
        return snapshot.build();
    }
}
