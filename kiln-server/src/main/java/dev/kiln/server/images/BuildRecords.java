package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import dev.kiln.server.Database;
import java.util.Optional;
import java.util.Set;
import dev.kiln.core.JobState;
import java.util.UUID;

/** The pipeline's builds in the {@code image_builds} table: why each was made, what became of it and why not. */
final class BuildRecords {
    static final String BUILDING = "BUILDING";
    static final String ROLLING_OUT = "ROLLING_OUT";
    static final String MOVED = "MOVED";
    static final String FAILED = "FAILED";

    /** One build as recorded. */
    record Build(String id, String name, String trigger, String runnerVersion, String digest, String outcome,
            String message, long startedAt, Long endedAt) {}

    private final Database db;

    BuildRecords(Database db) {
        this.db = requireNonNull(db, "db is null");
    }

    String started(PipelineConfig.KeptImage image, String trigger, String runnerVersion, long now) {
        String id = UUID.randomUUID().toString();
        db.tx(tx -> tx.update("INSERT INTO image_builds (id, name, recipe, arch, trigger_reason, runner_version, outcome,"
                        + " started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", id, image.name(), image.recipe(), image.arch().id(),
                trigger, runnerVersion, BUILDING, now));
        return id;
    }

    void rollingOut(String id, String digest, String message) {
        db.tx(tx -> tx.update("UPDATE image_builds SET digest = ?, outcome = ?, message = ? WHERE id = ?", digest,
                ROLLING_OUT, message, id));
    }

    void ended(String id, String outcome, String digest, String message, long now) {
        db.tx(tx -> tx.update("UPDATE image_builds SET digest = COALESCE(?, digest), outcome = ?, message = ?,"
                + " ended_at = ? WHERE id = ?", digest, outcome, message, now, id));
    }

    /** The name's newest build, whatever became of it. */
    Optional<Build> last(String name) {
        return db.read(tx -> tx.queryOne("SELECT id, name, trigger_reason, runner_version, digest, outcome, message,"
                + " started_at, ended_at FROM image_builds WHERE name = ? ORDER BY started_at DESC, id LIMIT 1",
                BuildRecords::build, name));
    }

    /** When the name last moved to a build of the pipeline's, if it ever did. */
    Optional<Long> lastMoved(String name) {
        return db.read(tx -> tx.queryOne("SELECT ended_at FROM image_builds WHERE name = ? AND outcome = ?"
                + " ORDER BY ended_at DESC LIMIT 1", row -> row.getLong(1), name, MOVED));
    }

    /** The images (digests or names) of the jobs that have not ended: their launches may still name them. */
    Set<String> imagesOfUnfinishedJobs() {
        return Set.copyOf(db.read(tx -> tx.query("SELECT DISTINCT image FROM jobs WHERE state NOT IN (?, ?, ?, ?)",
                row -> row.getString(1), JobState.SUCCEEDED.name(), JobState.FAILED.name(), JobState.CANCELLED.name(),
                JobState.LOST.name())));
    }

    /** Builds a dead server left half-way (it was killed while building or rolling out): failed, saying so. */
    int abandonUnfinished(long now) {
        return db.tx(tx -> tx.update("UPDATE image_builds SET outcome = ?, message = ?, ended_at = ? WHERE outcome IN (?, ?)",
                FAILED, "the server stopped before this build ended; the name stayed where it was", now, BUILDING,
                ROLLING_OUT));
    }

    private static Build build(java.sql.ResultSet row) throws java.sql.SQLException {
        long ended = row.getLong("ended_at");
        Long endedAt = row.wasNull() ? null : ended;
        return new Build(row.getString("id"), row.getString("name"), row.getString("trigger_reason"),
                row.getString("runner_version"), row.getString("digest"), row.getString("outcome"), row.getString("message"),
                row.getLong("started_at"), endedAt);
    }
}
