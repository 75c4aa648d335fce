package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A provider's loop, turned by the test on the test's clock (no thread, no sleep): its clean-up every turn, its
 * reconciliation at start and then each time the clock passes the interval, and launches that got no credential
 * within the deadline withdrawn, their demands queued again after the backoff.
 */
class ProviderLoopTest {
    @TempDir
    Path dir;
    StoreFixture store;
    volatile boolean reachable = true;
    TestingProvider provider;
    ProviderLoop loop;

    @BeforeEach
    void open() {
        store = new StoreFixture("jdbc:sqlite:" + dir.resolve("kiln.db"));
        provider = new TestingProvider(store.db, store.clock, () -> reachable);
        store.serve(provider);
        loop = new ProviderLoop(provider, new StalledLaunches(store.db, store.clock), store.clock);
    }

    @AfterEach
    void close() {
        loop.close();
        store.close();
    }

    @Test
    void cleanUpRunsEveryTurnAndReconciliationAtStartThenOncePerIntervalOfTheClock() {
        loop.turn();
        assertThat(provider.turns()).isEqualTo(new TestingProvider.Turns(1, 1));

        store.clock.advance(Duration.ofMinutes(1));
        loop.turn();
        store.clock.advance(Duration.ofMinutes(1).plusSeconds(59));
        loop.turn();
        assertThat(provider.turns()).isEqualTo(new TestingProvider.Turns(3, 1));

        store.clock.advance(Duration.ofSeconds(1)); // 3 min, the interval, after the first
        loop.turn();
        loop.turn();
        assertThat(provider.turns()).isEqualTo(new TestingProvider.Turns(5, 2));
    }

    @Test
    void aLaunchWithoutACredentialPastTheDeadlineGivesItsRoomBackAndItsDemandWaitsOutTheBackoff() {
        store.host("h1", 4, 8);
        reachable = false;
        String demand = provider.demand("widgets");
        assertThat(store.place()).isEqualTo(1);
        assertThat(store.desired("h1").vms()).as("no credential: no launch").isEmpty();
        String vm = store.job(demand).vm();

        store.clock.advance(Duration.ofMinutes(2).minusSeconds(1));
        loop.turn();
        assertThat(store.job(demand).state()).as("within the deadline").isEqualTo(JobState.SCHEDULED);

        store.clock.advance(Duration.ofSeconds(1));
        loop.turn();

        JobView withdrawn = store.job(demand);
        assertThat(withdrawn.state()).isEqualTo(JobState.QUEUED);
        assertThat(withdrawn.vm()).isNull();
        assertThat(withdrawn.detail()).contains("VM " + vm + " on h1 had no runner 120 s after its reservation")
                .contains("testing is unavailable (HTTP 503)").contains("not before 30 s");
        assertThat(withdrawn.timeline()).extracting(e -> e.state()).containsExactly(JobState.QUEUED, JobState.SCHEDULED,
                JobState.QUEUED);
        assertThat(store.place()).as("it waits out its backoff").isZero();

        reachable = true;
        store.clock.advance(Duration.ofSeconds(30));
        assertThat(store.place()).isEqualTo(1);
        assertThat(store.desired("h1").vms()).singleElement()
                .satisfies(launch -> assertThat(launch.runnerJitConfig()).startsWith("credential of vm-"));
    }
}
