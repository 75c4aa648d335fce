package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestConsoleTest {
    @TempDir
    Path dir;

    private void append(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.ISO_8859_1, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @Test
    void passesOnlyTheCommandsOutputAndFindsTheExitCodeAcrossSplitReads() throws IOException {
        Path console = dir.resolve("console.log");
        Path stderr = dir.resolve("stderr.log");
        var output = new TestHost.Output();
        var guest = new GuestConsole(console, stderr, "n0nce", output);

        append(console, "[    0.1] Linux booting\nkiln-initrd: loading\n\u001eKILN-RE");
        guest.poll();
        assertThat(guest.ready()).isFalse();
        append(console, "ADY:n0nce\nhello\nwor");
        append(stderr, "warning\n");
        guest.poll();
        assertThat(guest.ready()).isTrue();
        append(console, "ld\n\u001eKILN-EX");
        guest.poll();
        assertThat(guest.exitCode()).isEmpty();
        append(console, "IT:n0nce:42\n[   9.9] reboot: Restarting system\n");
        guest.poll();

        assertThat(guest.exitCode()).hasValue(42);
        assertThat(output.stdout()).isEqualTo("hello\nworld\n");
        assertThat(output.stderr()).isEqualTo("warning\n");
    }

    /**
     * A guest that prints far more than the cap: its console log on the host stays within the cap (its head
     * cut out in place, as QEMU keeps appending through the same open file), starts with a notice saying
     * so, ends with the latest output, and nothing of the output or the exit marker is lost on the way.
     */
    @Test
    void aLogFarPastItsCapKeepsItsTailAndSaysSoWithNothingLost() throws IOException {
        Path console = dir.resolve("console.log");
        var output = new TestHost.Output();
        long cap = 64 << 10;
        var guest = new GuestConsole(console, dir.resolve("stderr.log"), "n0nce", output, cap, 16 << 10);
        StringBuilder printed = new StringBuilder();
        // As QEMU's file chardev with append=on: one descriptor, opened once, O_APPEND.
        try (var vmm = java.nio.channels.FileChannel.open(console, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            vmm.write(StandardCharsets.ISO_8859_1.encode("[    0.1] Linux booting\n\u001eKILN-READY:n0nce\n"));
            for (int chunk = 0; chunk < 1000; chunk++) {
                StringBuilder lines = new StringBuilder();
                for (int line = 0; line < 100; line++) {
                    lines.append("chunk ").append(chunk).append(" line ").append(line).append('\n');
                }
                printed.append(lines);
                vmm.write(StandardCharsets.ISO_8859_1.encode(lines.toString()));
                guest.poll();
                assertThat(Files.size(console)).as("console log after chunk %d", chunk).isLessThan(cap + (8 << 10));
            }
            vmm.write(StandardCharsets.ISO_8859_1.encode("last words\n\u001eKILN-EXIT:n0nce:7\n"));
            printed.append("last words\n");
            guest.poll();
        }

        assertThat(printed.length()).isGreaterThan(20 * (int) cap);
        assertThat(guest.exitCode()).hasValue(7);
        assertThat(output.stdout()).isEqualTo(printed.toString());
        String kept = Files.readString(console, StandardCharsets.ISO_8859_1);
        assertThat(kept).startsWith("[kiln: this log is capped at 64 KiB:").contains("bytes of it after this block were dropped")
                .endsWith("chunk 999 line 99\nlast words\n\u001eKILN-EXIT:n0nce:7\n");
    }

    @Test
    void bootPhasesBeforeTheReadyMarkerAreReportedAndThoseAfterItAreTheCommandsOutput() throws IOException {
        Path console = dir.resolve("console.log");
        var output = new TestHost.Output();
        var guest = new GuestConsole(console, dir.resolve("stderr.log"), "n0nce", output);

        append(console, "[    0.1] Linux\n\u001eKILN-PHASE:init:0.61\n\u001eKILN-PHASE:netw");
        guest.poll();
        assertThat(guest.takePhases()).containsExactly(new GuestConsole.Phase("init", "0.61"));
        append(console, "ork:0.93\n\u001eKILN-PHASE:bad name:1\n\u001eKILN-PHASE:dockerd:6.20\n");
        append(console, "\u001eKILN-READY:n0nce\n\u001eKILN-PHASE:fake:9.9\n");
        guest.poll();
        assertThat(guest.takePhases()).containsExactly(new GuestConsole.Phase("network", "0.93"),
                new GuestConsole.Phase("dockerd", "6.20"));
        assertThat(guest.takePhases()).isEmpty();
        assertThat(output.stdout()).isEqualTo("\u001eKILN-PHASE:fake:9.9\n");
    }

    @Test
    void aLongBootLogWithoutNewlinesIsNotKeptWhole() throws IOException {
        Path console = dir.resolve("console.log");
        var guest = new GuestConsole(console, dir.resolve("stderr.log"), "n0nce", new TestHost.Output());

        append(console, "x".repeat(100_000));
        guest.poll();
        append(console, "\u001eKILN-READY:n0nce\nok\n");
        guest.poll();

        assertThat(guest.ready()).isTrue();
    }

    @Test
    void markerLookalikesFromTheCommandArePassedThrough() throws IOException {
        Path console = dir.resolve("console.log");
        var output = new TestHost.Output();
        var guest = new GuestConsole(console, dir.resolve("stderr.log"), "n0nce", output);

        append(console, "\u001eKILN-READY:n0nce\n\u001eKILN-EXIT:other:3\nplain \u001e byte\n\u001eKILN-EXIT:n0nce:x\n");
        guest.poll();
        assertThat(guest.exitCode()).isEmpty();
        append(console, "\u001eKILN-EXIT:n0nce:0\n");
        guest.poll();

        assertThat(guest.exitCode()).hasValue(0);
        assertThat(output.stdout()).isEqualTo("\u001eKILN-EXIT:other:3\nplain \u001e byte\n\u001eKILN-EXIT:n0nce:x\n");
    }

    @Test
    void aBootWithoutMarkerIsNeverReady() throws IOException {
        Path console = dir.resolve("console.log");
        var guest = new GuestConsole(console, dir.resolve("stderr.log"), "n0nce", GuestOutput.DISCARD);
        append(console, "Kernel panic - not syncing\n\u001eKILN-READY:wrong\n");
        guest.poll();
        assertThat(guest.ready()).isFalse();
        assertThat(guest.exitCode()).isEmpty();
    }
}
