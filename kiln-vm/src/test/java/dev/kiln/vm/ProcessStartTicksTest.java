package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The start time that, with a pid, names the VMM a journal records (and a recovery kills). */
class ProcessStartTicksTest {
    @TempDir
    Path dir;

    /** Ticks after boot, as an instant: boot time from /proc/stat, 100 ticks a second (USER_HZ on Linux). */
    private static Instant asInstant(String ticks) throws IOException {
        long bootSeconds = Files.readAllLines(Path.of("/proc/stat")).stream().filter(l -> l.startsWith("btime "))
                .mapToLong(l -> Long.parseLong(l.substring(6).strip())).findFirst().orElseThrow();
        return Instant.ofEpochSecond(bootSeconds).plusMillis(Long.parseLong(ticks) * 10);
    }

    @Test
    void isWhenTheProcessStartedEvenWithSpacesAndParenthesesInItsName() throws Exception {
        // The command name is field 2 of /proc/PID/stat, in parentheses: a name holding ") (" must not shift the fields.
        Path oddlyNamed = dir.resolve("a) b (c");
        Files.copy(Path.of("/bin/sleep"), oddlyNamed);
        oddlyNamed.toFile().setExecutable(true);
        Process process = new ProcessBuilder(oddlyNamed.toString(), "30").start();
        try {
            String ticks = VmResources.startTicks(process.pid()).orElseThrow();
            Instant expected = process.toHandle().info().startInstant().orElseThrow();

            assertThat(Duration.between(asInstant(ticks), expected).abs()).isLessThan(Duration.ofSeconds(1));
            assertThat(VmResources.startTicks(process.pid())).contains(ticks);
            assertThat(VmResources.startTicks(ProcessHandle.current().pid()).orElseThrow()).isNotEqualTo(ticks);
        } finally {
            process.destroyForcibly().waitFor();
        }
        assertThat(VmResources.startTicks(process.pid())).isEmpty();
    }
}
