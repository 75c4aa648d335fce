package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The store's contract on a real PostgreSQL server, and what only several replicas can get wrong. */
class PostgresStoreTest extends StoreContract {
    @RegisterExtension
    static final PostgresServer postgres = new PostgresServer();

    @Override
    String newDatabase() {
        return postgres.newDatabase();
    }

    @Test
    @Timeout(120)
    void twoReplicasPassingAtOnceNeverPlaceAJobTwiceNorOverfillAHost() throws Exception {
        String url = store.db.url();
        for (int h = 0; h < 5; h++) {
            store.host("h" + h, 8, 16);
        }
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            jobs.add(store.submit(1 + i % 3, 1 + i % 4, "true").id());
        }
        try (StoreFixture other = new StoreFixture(url); ExecutorService pool = Executors.newFixedThreadPool(2)) {
            CyclicBarrier start = new CyclicBarrier(2);
            List<Future<Integer>> placed = new ArrayList<>();
            for (StoreFixture replica : List.of(store, other)) {
                placed.add(pool.submit(() -> {
                    start.await();
                    int sum = 0;
                    for (int round = 0; round < 20; round++) {
                        sum += replica.pass().placed();
                    }
                    return sum;
                }));
            }
            int total = placed.get(0).get() + placed.get(1).get();

            long vms = store.db.tx(tx -> tx.queryLong("SELECT COUNT(*) FROM vms"));
            long distinctJobs = store.db.tx(tx -> tx.queryLong("SELECT COUNT(DISTINCT job_id) FROM vms"));
            assertThat(vms).isEqualTo(total).isEqualTo(distinctJobs).isPositive();
            Map<String, long[]> used = new HashMap<>();
            for (String id : jobs) {
                JobView job = store.jobs.get(id);
                if (job.state() == JobState.SCHEDULED) {
                    long[] u = used.computeIfAbsent(job.host(), h -> new long[2]);
                    u[0] += job.cpus();
                    u[1] += job.memoryMib();
                }
            }
            assertThat(used.values()).allSatisfy(u -> {
                assertThat(u[0]).isLessThanOrEqualTo(8);
                assertThat(u[1]).isLessThanOrEqualTo(16 * 1024);
            });
        }
    }
}
