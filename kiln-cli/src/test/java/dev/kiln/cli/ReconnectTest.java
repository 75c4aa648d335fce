package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingClock;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The reconnect policy of remote `kiln run`, on a clock the test moves. */
class ReconnectTest {
    final TestingClock clock = new TestingClock();
    final List<Duration> waits = new ArrayList<>();
    final StringWriter notes = new StringWriter();
    final Reconnect reconnect = new Reconnect(clock, duration -> {
        waits.add(duration);
        clock.advance(duration);
    }, Duration.ofMinutes(1), new PrintWriter(notes, true));

    @Test
    void aServerBackWithinTheDeadlineIsAskedAgainWithGrowingWaits() {
        AtomicInteger calls = new AtomicInteger();
        String answer = reconnect.call("http://kiln:7878", "j-1", () -> {
            if (calls.incrementAndGet() <= 7) {
                throw new KilnException(ErrorCode.UNAVAILABLE, "cannot reach the Kiln server at http://kiln:7878");
            }
            return "page";
        });
        assertThat(answer).isEqualTo("page");
        assertThat(waits).extracting(Duration::toMillis).containsExactly(250L, 500L, 1000L, 2000L, 4000L, 5000L, 5000L);
        assertThat(notes.toString()).contains("reconnecting for up to 60 s").contains("reconnected to http://kiln:7878 after 17750 ms");
    }

    @Test
    void aServerAwayPastTheDeadlineEndsWithServerLostAndHowToFollowTheJob() {
        AtomicInteger calls = new AtomicInteger();
        assertThatThrownBy(() -> reconnect.call("http://kiln:7878", "j-42", () -> {
            calls.incrementAndGet();
            throw new KilnException(ErrorCode.UNAVAILABLE, "lost the connection to the Kiln server at http://kiln:7878");
        })).isInstanceOfSatisfying(KilnException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.SERVER_LOST);
            assertThat(ExitCodes.of(e.code())).isEqualTo(ExitCodes.SERVER_LOST).isNotIn(126, 127);
        }).hasMessageContaining("lost the Kiln server at http://kiln:7878 for 60 s")
                .hasMessageContaining("job j-42 may still be running").hasMessageContaining("`kiln logs -f j-42`");
        assertThat(waits.stream().mapToLong(Duration::toMillis).sum()).isEqualTo(60_000);
        assertThat(calls.get()).isEqualTo(waits.size() + 1);
    }

    @Test
    void otherFailuresAreNotRetried() {
        assertThatThrownBy(() -> reconnect.call("http://kiln:7878", "j-1", () -> {
            throw new KilnException(ErrorCode.NOT_FOUND, "no job j-1");
        })).isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
        assertThat(waits).isEmpty();
    }
}
