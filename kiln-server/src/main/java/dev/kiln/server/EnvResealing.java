package dev.kiln.server;

import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Seals, at start, the environments that an earlier Kiln stored in the clear, then (on SQLite) rewrites the
 * database file and empties its write-ahead log, so that the old plain values are gone from the disk's
 * live files and not only from the rows.
 */
final class EnvResealing {
    private static final Logger log = LoggerFactory.getLogger(EnvResealing.class);

    private EnvResealing() {}

    /** The number of jobs whose environment was sealed now. */
    static int run(Database db, EnvSeal envs) {
        record Plain(String id, String env) {}
        int sealed = db.tx(tx -> {
            List<Plain> plain = tx.query("SELECT id, env FROM jobs WHERE env <> '{}' AND env NOT LIKE '"
                    + EnvSeal.PREFIX + "%'", row -> new Plain(row.getString("id"), row.getString("env")));
            for (Plain job : plain) {
                tx.update("UPDATE jobs SET env = ? WHERE id = ?", envs.seal(envs.open(job.id(), job.env())), job.id());
            }
            return plain.size();
        });
        if (sealed > 0) {
            db.compact();
            log.warn("sealed the environment of {} job(s) stored in the clear by an earlier Kiln{}", sealed,
                    db.dialect() == Dialect.SQLITE ? "; the database file was rewritten without the old values"
                            : "; PostgreSQL keeps old row versions until VACUUM: run VACUUM FULL jobs to drop them");
        }
        return sealed;
    }
}
