package dev.kiln.vm;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;

/**
 * Reads a guest's serial logs as they grow. ttyS0 carries the boot log, then the ready marker,
 * then the command's stdout and finally the exit marker; ttyS1 carries only the command's stderr.
 * Markers start with the ASCII record separator and carry the VM's nonce, so output that merely
 * looks like a marker is passed through. Before the ready marker the guest's init marks its boot
 * phases with "<RS>KILN-PHASE:name:uptime" lines; the command cannot fake one (it has not started).
 */
final class GuestConsole {
    static final byte RS = 0x1e;
    private static final int MAX_MARKER = 200;
    private static final byte[] PHASE = "\u001eKILN-PHASE:".getBytes(StandardCharsets.US_ASCII);

    /** A boot phase the guest reached, with its own uptime then (seconds, as /proc/uptime has it). */
    record Phase(String name, String guestUptime) {}

    private final Path consoleLog;
    private final Path stderrLog;
    private final byte[] readyMarker;
    private final String exitPrefix;
    private final GuestOutput output;
    private long consoleOffset;
    private long stderrOffset;
    private byte[] pending = new byte[0];
    private boolean ready;
    private OptionalInt exitCode = OptionalInt.empty();
    private final LogCap consoleCap;
    private final LogCap stderrCap;
    private final java.util.List<Phase> phases = new java.util.ArrayList<>();

    GuestConsole(Path consoleLog, Path stderrLog, String nonce, GuestOutput output) {
        this(consoleLog, stderrLog, nonce, output, LogCap.DEFAULT_CAP, LogCap.DEFAULT_KEEP);
    }

    /** With the logs capped at {@code cap} bytes read, keeping the last {@code keep} (see {@link LogCap}). */
    GuestConsole(Path consoleLog, Path stderrLog, String nonce, GuestOutput output, long cap, long keep) {
        this.consoleCap = new LogCap(consoleLog, cap, keep);
        this.stderrCap = new LogCap(stderrLog, cap, keep);
        this.consoleLog = consoleLog;
        this.stderrLog = stderrLog;
        this.readyMarker = ("\u001eKILN-READY:" + nonce + "\n").getBytes(StandardCharsets.US_ASCII);
        this.exitPrefix = "\u001eKILN-EXIT:" + nonce + ":";
        this.output = output;
    }

    boolean ready() {
        return ready;
    }

    OptionalInt exitCode() {
        return exitCode;
    }

    /** The phases seen since the last call. */
    java.util.List<Phase> takePhases() {
        var taken = java.util.List.copyOf(phases);
        phases.clear();
        return taken;
    }

    /** Reads what both logs gained since the last call and passes the command's output on. */
    void poll() {
        if (exitCode.isEmpty()) {
            byte[] fresh = readFrom(consoleLog, consoleOffset);
            consoleOffset += fresh.length;
            if (fresh.length > 0) {
                pending = concat(pending, fresh);
                scan();
                consoleOffset -= consoleCap.trim(consoleOffset);
            }
        }
        if (ready) {
            byte[] err = readFrom(stderrLog, stderrOffset);
            stderrOffset += err.length;
            if (err.length > 0) {
                output.stderr(err, 0, err.length);
                stderrOffset -= stderrCap.trim(stderrOffset);
            }
        }
    }

    private void scan() {
        if (!ready) {
            int at = indexOf(pending, readyMarker, 0);
            int lastNewline = findPhases(at < 0 ? pending.length : at);
            if (at < 0) {
                // keep an unfinished line (bounded) that may be a phase or the start of the marker
                int keepFrom = Math.max(lastNewline + 1, pending.length - MAX_MARKER);
                pending = java.util.Arrays.copyOfRange(pending, keepFrom, pending.length);
                return;
            }
            ready = true;
            pending = java.util.Arrays.copyOfRange(pending, at + readyMarker.length, pending.length);
        }
        int start = 0;
        while (start < pending.length) {
            int rs = indexOf(pending, new byte[] {RS}, start);
            if (rs < 0) {
                output.stdout(pending, start, pending.length - start);
                start = pending.length;
                break;
            }
            output.stdout(pending, start, rs - start);
            int newline = indexOf(pending, new byte[] {'\n'}, rs);
            if (newline < 0 && pending.length - rs < MAX_MARKER) {
                start = rs; // maybe a marker still arriving
                break;
            }
            int end = newline < 0 ? pending.length : newline;
            String candidate = new String(pending, rs, end - rs, StandardCharsets.US_ASCII);
            if (candidate.startsWith(exitPrefix)) {
                try {
                    exitCode = OptionalInt.of(Integer.parseInt(candidate.substring(exitPrefix.length()).strip()));
                    pending = new byte[0];
                    return;
                } catch (NumberFormatException notAMarker) {
                    // fall through: the command printed something marker-like
                }
            }
            output.stdout(pending, rs, 1);
            start = rs + 1;
        }
        pending = java.util.Arrays.copyOfRange(pending, start, pending.length);
    }

    /** Records the phase lines complete before {@code end}; returns the index of the last newline, or -1. */
    private int findPhases(int end) {
        int lineStart = 0;
        int lastNewline = -1;
        for (int i = 0; i < end; i++) {
            if (pending[i] != '\n') {
                continue;
            }
            int at = indexOf(java.util.Arrays.copyOfRange(pending, lineStart, i), PHASE, 0);
            if (at >= 0) {
                String[] parts = new String(pending, lineStart + at + PHASE.length, i - lineStart - at - PHASE.length,
                        StandardCharsets.US_ASCII).strip().split(":", 2);
                if (parts.length == 2 && parts[0].matches("[a-z0-9-]{1,32}") && parts[1].matches("[0-9.]{1,16}")) {
                    phases.add(new Phase(parts[0], parts[1]));
                }
            }
            lineStart = i + 1;
            lastNewline = i;
        }
        return lastNewline;
    }

    private static byte[] readFrom(Path file, long offset) {
        if (!Files.exists(file)) {
            return new byte[0];
        }
        try (RandomAccessFile in = new RandomAccessFile(file.toFile(), "r")) {
            long available = in.length() - offset;
            if (available <= 0) {
                return new byte[0];
            }
            byte[] bytes = new byte[(int) Math.min(available, 1 << 20)];
            in.seek(offset);
            in.readFully(bytes);
            return bytes;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the guest log " + file, e);
        }
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] joined = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, joined, a.length, b.length);
        return joined;
    }

    static int indexOf(byte[] haystack, byte[] needle, int from) {
        outer:
        for (int i = from; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
