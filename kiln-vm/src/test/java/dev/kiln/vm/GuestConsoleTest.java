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
