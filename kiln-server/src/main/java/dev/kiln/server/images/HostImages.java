package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.Arch;
import dev.kiln.server.Database;
import java.util.Arrays;
import java.util.List;

/** Which hosts still lack an image, from the digests their agents report holding. */
final class HostImages {
    /**
     * Of the online, undrained hosts that run an arch: {@code hosts} lack the image, {@code silent} do not say what they
     * hold (an agent older than its images report).
     */
    record Lacking(List<String> hosts, List<String> silent) {}

    private final Database db;

    HostImages(Database db) {
        this.db = requireNonNull(db, "db is null");
    }

    /** What every host should hold changed: each one's held sync answers now (and on other replicas too). */
    void offerChanged() {
        db.tx(tx -> {
            for (String host : tx.query("SELECT name FROM hosts", row -> row.getString(1))) {
                tx.desiredChanged(host);
            }
            return null;
        });
    }

    /**
     * The online, undrained hosts that run {@code arch} (natively or emulated) and do not hold {@code digest}; apart,
     * those whose agent does not report its images (an older agent): they fetch at a launch, as before.
     */
    Lacking lacking(String digest, Arch arch) {
        record Row(String name, String arch, String emulated, String images) {}
        List<Row> rows = db.read(tx -> tx.query("SELECT name, arch, emulated_arches, images FROM hosts"
                + " WHERE offline = 0 AND draining = 0 ORDER BY name", row -> new Row(row.getString(1), row.getString(2),
                row.getString(3), row.getString(4))));
        List<String> lacking = new java.util.ArrayList<>();
        List<String> silent = new java.util.ArrayList<>();
        for (Row row : rows) {
            boolean runs = arch.id().equals(row.arch())
                    || Arrays.asList((row.emulated() == null ? "" : row.emulated()).split(",")).contains(arch.id());
            if (!runs) {
                continue;
            }
            if (row.images() == null) {
                silent.add(row.name());
            } else if (!Arrays.asList(row.images().split(" ")).contains(digest)) {
                lacking.add(row.name());
            }
        }
        return new Lacking(List.copyOf(lacking), List.copyOf(silent));
    }
}
