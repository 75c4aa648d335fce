package dev.kiln.cli;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.core.Sleeper;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.function.Supplier;

/**
 * Repeats a call to the server while it fails for want of the server (connection refused or lost, no
 * answer in time, 503), waiting 0.25 s, then twice as long each time up to 5 s, until the call has failed
 * for {@code deadline}: a server restart or a network blip does not end a remote `kiln run` whose job runs
 * on. Only calls that are safe to repeat go through here (reads by cursor), never a submission.
 */
final class Reconnect {
    static final Duration FIRST_WAIT = Duration.ofMillis(250);
    static final Duration MAX_WAIT = Duration.ofSeconds(5);
    static final Duration DEFAULT_DEADLINE = Duration.ofMinutes(5);

    private final InstantSource clock;
    private final Sleeper sleeper;
    private final Duration deadline;
    private final PrintWriter notes;

    /** @param notes where reconnecting and reconnected are said (null: nowhere) */
    Reconnect(InstantSource clock, Sleeper sleeper, Duration deadline, PrintWriter notes) {
        this.clock = requireNonNull(clock, "clock is null");
        this.sleeper = requireNonNull(sleeper, "sleeper is null");
        this.deadline = requireNonNull(deadline, "deadline is null");
        this.notes = notes;
    }

    static Reconnect system(PrintWriter notes) {
        return new Reconnect(InstantSource.system(), Sleeper.SYSTEM, DEFAULT_DEADLINE, notes);
    }

    /**
     * The call's answer, once the server gives one.
     *
     * @param jobId the job the call follows, named in the message when the server stays away
     * @throws KilnException {@link ErrorCode#SERVER_LOST} after {@code deadline} of failures; any failure
     *     that is not about reaching the server at once
     */
    <T> T call(String server, String jobId, Supplier<T> call) {
        Instant failingSince = null;
        Duration wait = FIRST_WAIT;
        while (true) {
            try {
                T answer = call.get();
                if (failingSince != null && notes != null) {
                    notes.println("kiln: reconnected to " + server + " after "
                            + Duration.between(failingSince, clock.instant()).toMillis() + " ms");
                }
                return answer;
            } catch (KilnException e) {
                if (e.code() != ErrorCode.UNAVAILABLE) {
                    throw e;
                }
                Instant now = clock.instant();
                if (failingSince == null) {
                    failingSince = now;
                    if (notes != null) {
                        notes.println("kiln: " + e.getMessage() + "; reconnecting for up to " + seconds(deadline));
                    }
                }
                Duration left = deadline.minus(Duration.between(failingSince, now));
                if (left.isNegative() || left.isZero()) {
                    throw new KilnException(ErrorCode.SERVER_LOST, "lost the Kiln server at " + server + " for "
                            + seconds(Duration.between(failingSince, now)) + " (last: " + e.getMessage() + "); job "
                            + jobId + " may still be running: follow it with `kiln logs -f " + jobId
                            + "` and see its state with `kiln job " + jobId + "`", e);
                }
                sleep(wait.compareTo(left) < 0 ? wait : left);
                wait = wait.multipliedBy(2).compareTo(MAX_WAIT) < 0 ? wait.multipliedBy(2) : MAX_WAIT;
            }
        }
    }

    private void sleep(Duration duration) {
        try {
            sleeper.sleep(duration);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KilnException(ErrorCode.CANCELLED, "interrupted while reconnecting to the Kiln server", e);
        }
    }

    private static String seconds(Duration duration) {
        return duration.toMillis() % 1000 == 0 ? duration.toSeconds() + " s" : duration.toMillis() / 1000.0 + " s";
    }
}
