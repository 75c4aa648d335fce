package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.vm.BootPatience.Verdict;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class BootPatienceTest {
    private static final Instant START = Instant.parse("2026-12-05T10:00:00Z");
    private static final Duration BOOT = Duration.ofSeconds(60);

    @Test
    void aBootOnAnIdleHostFailsAtItsDeadlineAndIsNotBlamedOnLoad() {
        BootPatience patience = new BootPatience(START, BOOT, () -> null);

        assertThat(patience.check(START.plusSeconds(60))).isEqualTo(Verdict.WAIT);
        assertThat(patience.check(START.plusSeconds(61))).isEqualTo(Verdict.FAILED);
        assertThat(patience.load()).isNull();
    }

    @Test
    void aBootOnABusyHostWaitsUpToThreeBootTimeoutsAndThenFailsNamingTheLoad() {
        BootPatience patience = new BootPatience(START, BOOT, () -> "load 7.5 on 2 CPUs");

        assertThat(patience.check(START.plusSeconds(61))).isEqualTo(Verdict.EXTENDED);
        assertThat(patience.check(START.plusSeconds(120))).isEqualTo(Verdict.WAIT);
        assertThat(patience.check(START.plusSeconds(122))).isEqualTo(Verdict.STILL_EXTENDED);
        // The limit is 180 s from the start, however late the deadline passed.
        assertThat(patience.check(START.plusSeconds(180))).isEqualTo(Verdict.WAIT);
        assertThat(patience.check(START.plusSeconds(181))).isEqualTo(Verdict.FAILED);
        assertThat(patience.load()).isEqualTo("load 7.5 on 2 CPUs");
        assertThat(patience.limit()).isEqualTo(Duration.ofSeconds(180));
    }

    @Test
    void aHostThatCalmsDownGetsNoFurtherExtension() {
        AtomicReference<String> load = new AtomicReference<>("load 4.0 on 2 CPUs");
        BootPatience patience = new BootPatience(START, BOOT, load::get);

        assertThat(patience.check(START.plusSeconds(61))).isEqualTo(Verdict.EXTENDED);
        load.set(null);
        assertThat(patience.check(START.plusSeconds(122))).isEqualTo(Verdict.FAILED);
        assertThat(patience.load()).isNull();
    }

    @Test
    void theLoadAverageIsBusyOnlyAboveTheCpuCount() {
        assertThat(HostLoad.busy("3.50 2.10 1.00 3/211 4242\n", 2)).isEqualTo("load 3.5 on 2 CPUs");
        assertThat(HostLoad.busy("2.00 2.10 1.00 3/211 4242\n", 2)).isNull();
        assertThat(HostLoad.busy("not a load average", 2)).isNull();
        assertThat(HostLoad.busy("", 2)).isNull();
    }
}
