package dev.kiln.core;

import static dev.kiln.core.JobState.CANCELLED;
import static dev.kiln.core.JobState.FAILED;
import static dev.kiln.core.JobState.LOST;
import static dev.kiln.core.JobState.QUEUED;
import static dev.kiln.core.JobState.RUNNING;
import static dev.kiln.core.JobState.SCHEDULED;
import static dev.kiln.core.JobState.STARTING;
import static dev.kiln.core.JobState.SUCCEEDED;
import static java.util.Objects.requireNonNull;

import java.util.EnumSet;
import java.util.Set;

/**
 * The one owner of a job's life: which {@link JobChange} may move a job from which {@link JobState}, and to
 * which. Pure: the store asks it before every change and writes only what it allows, conditionally on the state
 * it asked about, so that two replicas racing on one job cannot both win.
 *
 * <pre>
 *            Submitted
 *                |
 *                v        Unplaceable, Rejected, Cancelled, Concluded
 *   +-------> QUEUED ------------------------------------------------> FAILED | CANCELLED | SUCCEEDED
 *   |            | Placed
 *   | Requeued   v
 *   +------- SCHEDULED --Booting--> STARTING --Started--> RUNNING --Exited--> SUCCEEDED | FAILED
 *   +------- STARTING        \____________Started_______/     |  LaunchFailed, Lost, Concluded, Cancelled
 * </pre>
 *
 * A terminal state is never left; a job never goes back to the queue once it ran (it is LOST instead).
 */
public final class JobLife {
    private static final Set<JobState> LIVE = EnumSet.of(QUEUED, SCHEDULED, STARTING, RUNNING);
    private static final Set<JobState> ON_A_HOST = EnumSet.of(SCHEDULED, STARTING, RUNNING);
    private static final Set<JobState> NOT_STARTED = EnumSet.of(SCHEDULED, STARTING);

    private JobLife() {}

    /** What {@link #next} answers: the state the change leads to, or why it may not happen. */
    public sealed interface Verdict {
        /** The change is allowed and leads to {@code to}. */
        record Moves(JobState to) implements Verdict {
            public Moves {
                requireNonNull(to, "to is null");
            }
        }

        /** The change may not happen in the job's state; nothing is to be written. */
        record Refused(String message) implements Verdict {
            public Refused {
                requireNonNull(message, "message is null");
            }
        }
    }

    /**
     * The state {@code change} moves a job in state {@code from} to, or a refusal saying why not.
     *
     * @param from the job's state, or null for a job that does not exist yet (only {@link JobChange.Submitted})
     */
    public static Verdict next(JobState from, JobChange change) {
        requireNonNull(change, "change is null");
        if (from == null) {
            return change instanceof JobChange.Submitted ? new Verdict.Moves(QUEUED)
                    : refused(null, change, "a job comes to be only by Submitted");
        }
        if (change instanceof JobChange.Submitted) {
            return refused(from, change, "the job exists already");
        }
        if (from.terminal()) {
            return refused(from, change, from + " is terminal: a job's result never changes");
        }
        return switch (change) {
            case JobChange.Submitted s -> throw new AssertionError("handled above");
            case JobChange.Placed p -> from == QUEUED ? moves(SCHEDULED) : refused(from, change, "only a QUEUED job is placed");
            case JobChange.Unplaceable u -> from == QUEUED ? moves(FAILED) : refused(from, change, "only a QUEUED job is refused a host");
            case JobChange.Rejected r -> from != RUNNING ? moves(FAILED)
                    : refused(from, change, "a RUNNING job ends by its exit, its VM's failure or its provider's conclusion");
            case JobChange.Booting b -> from == SCHEDULED ? moves(STARTING) : refused(from, change, "only a SCHEDULED job starts booting");
            case JobChange.Started s -> NOT_STARTED.contains(from) ? moves(RUNNING)
                    : refused(from, change, "only a SCHEDULED or STARTING job starts running");
            case JobChange.Exited e -> from == RUNNING ? moves(e.exitCode() == 0 ? SUCCEEDED : FAILED)
                    : refused(from, change, "only a RUNNING job exits (a report that skipped the start passes through Started first)");
            case JobChange.LaunchFailed f -> ON_A_HOST.contains(from) ? moves(FAILED)
                    : refused(from, change, "only a job on a host has a VM to fail");
            case JobChange.Concluded c -> LIVE.contains(from) ? moves(c.result()) : refused(from, change, "the job has ended");
            case JobChange.Cancelled c -> LIVE.contains(from) ? moves(CANCELLED) : refused(from, change, "the job has ended");
            case JobChange.Requeued q -> NOT_STARTED.contains(from) ? moves(QUEUED)
                    : refused(from, change, from == QUEUED ? "the job is queued already"
                            : "a job that ran is never queued again (it may have had effects): it is LOST instead");
            case JobChange.Lost l -> from == STARTING || from == RUNNING ? moves(LOST)
                    : refused(from, change, "only a job whose VM started can be lost (one that never started is queued again)");
        };
    }

    /** Whether {@code change} is allowed from {@code from}. */
    public static boolean allows(JobState from, JobChange change) {
        return next(from, change) instanceof Verdict.Moves;
    }

    /** The state {@code change} leads to from {@code from}; a refusal throws a CONFLICT naming the job. */
    public static JobState require(String job, JobState from, JobChange change) {
        return switch (next(from, change)) {
            case Verdict.Moves m -> m.to();
            case Verdict.Refused r -> throw new KilnException(ErrorCode.CONFLICT, "job " + job + ": " + r.message());
        };
    }

    /** Whether any change leads from {@code from} to {@code to}: the timeline's steps must all be such. */
    public static boolean canLead(JobState from, JobState to) {
        requireNonNull(to, "to is null");
        if (from == null) {
            return to == QUEUED;
        }
        if (from.terminal()) {
            return false;
        }
        return switch (to) {
            case QUEUED -> NOT_STARTED.contains(from);
            case SCHEDULED -> from == QUEUED;
            case STARTING -> from == SCHEDULED;
            case RUNNING -> NOT_STARTED.contains(from);
            case SUCCEEDED, CANCELLED, FAILED -> true;
            case LOST -> from == STARTING || from == RUNNING;
        };
    }

    private static Verdict moves(JobState to) {
        return new Verdict.Moves(to);
    }

    private static Verdict refused(JobState from, JobChange change, String why) {
        return new Verdict.Refused(name(change) + " cannot happen to a job " + (from == null ? "that does not exist"
                : "in state " + from) + ": " + why + " (" + change.detail() + ")");
    }

    private static String name(JobChange change) {
        return change.getClass().getSimpleName();
    }
}
