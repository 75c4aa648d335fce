package dev.kiln.core;

import static dev.kiln.core.JobState.CANCELLED;
import static dev.kiln.core.JobState.FAILED;
import static dev.kiln.core.JobState.LOST;
import static dev.kiln.core.JobState.QUEUED;
import static dev.kiln.core.JobState.RUNNING;
import static dev.kiln.core.JobState.SCHEDULED;
import static dev.kiln.core.JobState.STARTING;
import static dev.kiln.core.JobState.SUCCEEDED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The one owner of a job's life: every change from every state, written out, and random lives that keep the rules. */
class JobLifeTest {
    /** One change of each kind, and the exit that fails. */
    static final List<JobChange> CHANGES = List.of(
            new JobChange.Placed("h1", "vm-1"),
            new JobChange.Unplaceable("no host has 64 vCPUs; the largest, h1, has 8"),
            new JobChange.Rejected(ErrorCode.INVALID_LABEL, "kiln-999cpu-9999gb names no size"),
            new JobChange.Booting("VM vm-1 is booting on h1"),
            new JobChange.Started("VM vm-1 is up on h1"),
            new JobChange.Exited(0),
            new JobChange.Exited(3),
            new JobChange.LaunchFailed(ErrorCode.BOOT_FAILED, "no init marker within 60 s"),
            new JobChange.Concluded(SUCCEEDED, "GitHub job 7 concluded success"),
            new JobChange.Cancelled("request", "cancelled by request"),
            new JobChange.Requeued("host h1 was silent for more than 60 s before VM vm-1 started the job"),
            new JobChange.Lost("host h1 was silent for more than 60 s while VM vm-1 ran the job"));

    /**
     * The whole table, written out by hand (not derived from the class under test): for each change, the state it
     * leads to from each live state; a state missing is a refusal.
     */
    static Map<JobState, JobState> expected(JobChange change) {
        Map<JobState, JobState> to = new EnumMap<>(JobState.class);
        switch (change) {
            case JobChange.Placed p -> to.put(QUEUED, SCHEDULED);
            case JobChange.Unplaceable u -> to.put(QUEUED, FAILED);
            case JobChange.Rejected r -> {
                to.put(QUEUED, FAILED);
                to.put(SCHEDULED, FAILED);
                to.put(STARTING, FAILED);
            }
            case JobChange.Booting b -> to.put(SCHEDULED, STARTING);
            case JobChange.Started s -> {
                to.put(SCHEDULED, RUNNING);
                to.put(STARTING, RUNNING);
            }
            case JobChange.Exited e -> to.put(RUNNING, e.exitCode() == 0 ? SUCCEEDED : FAILED);
            case JobChange.LaunchFailed f -> {
                to.put(SCHEDULED, FAILED);
                to.put(STARTING, FAILED);
                to.put(RUNNING, FAILED);
            }
            case JobChange.Concluded c -> {
                for (JobState live : List.of(QUEUED, SCHEDULED, STARTING, RUNNING)) {
                    to.put(live, c.result());
                }
            }
            case JobChange.Cancelled c -> {
                for (JobState live : List.of(QUEUED, SCHEDULED, STARTING, RUNNING)) {
                    to.put(live, CANCELLED);
                }
            }
            case JobChange.Requeued q -> {
                to.put(SCHEDULED, QUEUED);
                to.put(STARTING, QUEUED);
            }
            case JobChange.Lost l -> {
                to.put(STARTING, LOST);
                to.put(RUNNING, LOST);
            }
            case JobChange.Submitted s -> throw new AssertionError("not in the table");
        }
        return to;
    }

    @Test
    void everyChangeFromEveryStateIsAsTheTableSays() {
        for (JobChange change : CHANGES) {
            Map<JobState, JobState> table = expected(change);
            for (JobState from : JobState.values()) {
                JobLife.Verdict verdict = JobLife.next(from, change);
                if (table.containsKey(from)) {
                    assertThat(verdict).as(from + " by " + change).isEqualTo(new JobLife.Verdict.Moves(table.get(from)));
                    assertThat(JobLife.canLead(from, table.get(from))).as(from + " -> " + table.get(from)).isTrue();
                } else {
                    assertThat(verdict).as(from + " by " + change).isInstanceOf(JobLife.Verdict.Refused.class);
                }
            }
        }
    }

    @Test
    void aTerminalStateRefusesEveryChangeAndSaysWhy() {
        for (JobState end : List.of(SUCCEEDED, FAILED, CANCELLED, LOST)) {
            for (JobChange change : CHANGES) {
                assertThat(JobLife.next(end, change)).isInstanceOfSatisfying(JobLife.Verdict.Refused.class, r ->
                        assertThat(r.message()).contains(change.getClass().getSimpleName()).contains("in state " + end)
                                .contains("terminal").contains(change.detail()));
            }
        }
    }

    @Test
    void aJobComesToBeOnlyBySubmittedAndOnlyOnce() {
        assertThat(JobLife.next(null, new JobChange.Submitted("submitted"))).isEqualTo(new JobLife.Verdict.Moves(QUEUED));
        for (JobChange change : CHANGES) {
            assertThat(JobLife.allows(null, change)).as(change.toString()).isFalse();
        }
        for (JobState state : JobState.values()) {
            assertThat(JobLife.allows(state, new JobChange.Submitted("again"))).isFalse();
        }
    }

    @Test
    void aJobThatRanIsLostNotQueuedAgainAndTheRefusalSaysSo() {
        assertThat(JobLife.next(RUNNING, new JobChange.Requeued("host h1 was silent")))
                .isInstanceOfSatisfying(JobLife.Verdict.Refused.class, r -> assertThat(r.message())
                        .contains("Requeued cannot happen to a job in state RUNNING").contains("LOST instead"));
        assertThatThrownBy(() -> JobLife.require("j-7", SUCCEEDED, new JobChange.Exited(1)))
                .isInstanceOf(KilnException.class).hasMessageContaining("job j-7").hasMessageContaining("SUCCEEDED")
                .satisfies(e -> assertThat(((KilnException) e).code()).isEqualTo(ErrorCode.CONFLICT));
    }

    @Test
    void aProviderConcludesOnlyAsSucceededFailedOrCancelled() {
        assertThatThrownBy(() -> new JobChange.Concluded(RUNNING, "odd")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("RUNNING");
    }

    /**
     * Random lives: each step a random change, applied when allowed. Whatever the order, a terminal state is never
     * left, a job that ran is never queued again, and every step the timeline records is one {@code canLead} allows.
     */
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233})
    void randomLivesKeepTheRules(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (int life = 0; life < 500; life++) {
            JobState state = JobLife.require("j", null, new JobChange.Submitted("submitted"));
            List<JobState> timeline = new ArrayList<>(List.of(state));
            boolean ran = false;
            for (int step = 0; step < 30; step++) {
                JobChange change = CHANGES.get(random.nextInt(CHANGES.size()));
                JobLife.Verdict verdict = JobLife.next(state, change);
                if (verdict instanceof JobLife.Verdict.Moves m) {
                    assertThat(state.terminal()).as("seed " + seed + ": " + timeline + " then " + change).isFalse();
                    assertThat(JobLife.canLead(state, m.to())).isTrue();
                    state = m.to();
                    timeline.add(state);
                    ran |= state == RUNNING;
                    assertThat(ran && state == QUEUED).as("seed " + seed + ": " + timeline).isFalse();
                }
            }
            assertThat(timeline.stream().filter(s -> s == RUNNING).count()).as("seed " + seed + ": " + timeline)
                    .isLessThanOrEqualTo(1);
        }
    }
}
