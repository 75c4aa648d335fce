package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobView;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.JobChange;
import dev.kiln.core.JobState;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The one writer of a job's state, on a real store: a change is written only from the state the caller read; a
 * caller whose read is stale (another replica moved the job meanwhile) has its change asked again of the state that
 * won, and a refusal changes nothing.
 */
class JobsTest {
    @TempDir
    Path dir;
    StoreFixture store;

    @BeforeEach
    void open() {
        store = new StoreFixture("jdbc:sqlite:" + dir.resolve("kiln.db"));
    }

    @AfterEach
    void close() {
        store.close();
    }

    JobState state(String job) {
        return store.db.read(tx -> Jobs.state(tx, job)).orElseThrow();
    }

    @Test
    void anExitReadAsRunningLosesToACancelThatWonAndChangesNothing() {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "sleep", "600");
        store.pass();
        String vm = store.job(job.id()).vm();
        store.report("h1", 4, 8, StoreFixture.running(vm));
        assertThat(state(job.id())).isEqualTo(JobState.RUNNING);
        store.cancel(job.id()); // the replica that won

        // The loser read RUNNING before the cancel committed.
        Jobs.Move move = store.db.tx(tx -> Jobs.move(tx, job.id(), JobState.RUNNING, new JobChange.Exited(0), 1L));

        assertThat(move).isInstanceOfSatisfying(Jobs.Move.Refused.class, r -> {
            assertThat(r.state()).isEqualTo(JobState.CANCELLED);
            assertThat(r.message()).contains(job.id()).contains("Exited").contains("CANCELLED is terminal");
        });
        JobView after = store.job(job.id());
        assertThat(after.state()).isEqualTo(JobState.CANCELLED);
        assertThat(after.exitCode()).isNull();
        assertThat(after.errorCode()).isEqualTo(ErrorCode.CANCELLED.name());
        assertThat(after.timeline()).extracting(e -> e.state()).containsExactly(JobState.QUEUED, JobState.SCHEDULED,
                JobState.STARTING, JobState.RUNNING, JobState.CANCELLED);
    }

    @Test
    void aCancelReadAsScheduledStillCancelsAJobThatStartedMeanwhile() {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "sleep", "600");
        store.pass();
        store.report("h1", 4, 8, StoreFixture.running(store.job(job.id()).vm()));

        Jobs.Move move = store.db.tx(tx -> Jobs.move(tx, job.id(), JobState.SCHEDULED,
                new JobChange.Cancelled("request", "cancelled by request"), 1L));

        assertThat(move).isEqualTo(new Jobs.Move.Moved(JobState.RUNNING, JobState.CANCELLED));
        assertThat(state(job.id())).isEqualTo(JobState.CANCELLED);
    }

    @Test
    void aRequeueReadBeforeTheJobRanIsRefusedOnceItRunsAndTheJobIsLostInstead() {
        store.host("h1", 4, 8);
        JobView job = store.submit(1, 1, "sleep", "600");
        store.pass();
        store.report("h1", 4, 8, StoreFixture.running(store.job(job.id()).vm()));

        Jobs.Move move = store.db.tx(tx -> SyncStore.abandon(tx, job.id(), JobState.STARTING, true,
                "host h1 was silent for more than 60 s before VM vm-1 started the job", 1L));

        assertThat(move).isEqualTo(new Jobs.Move.Moved(JobState.RUNNING, JobState.LOST));
        assertThat(store.job(job.id()).timeline()).extracting(e -> e.state()).doesNotContainSequence(JobState.RUNNING,
                JobState.QUEUED);
    }

    @Test
    void aJobComesToBeOnceWithItsFirstStepAndANoteChangesNoState() {
        JobView job = store.submit(1, 1, "true");
        store.db.tx(tx -> {
            Jobs.note(tx, job.id(), "waits for a host that can hold it", 2L);
            return null;
        });

        assertThat(store.job(job.id()).timeline()).extracting(e -> e.state() + " " + e.detail())
                .containsExactly("QUEUED submitted", "QUEUED waits for a host that can hold it");
        Jobs.Move none = store.db.read(tx -> Jobs.move(tx, "j-nonesuch", new JobChange.Exited(0), 3L));
        assertThat(none).isEqualTo(new Jobs.Move.Refused(null, "no job j-nonesuch"));
        assertThat(store.jobs(null, 10)).extracting(JobView::id).isEqualTo(List.of(job.id()));
    }
}
