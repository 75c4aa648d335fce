package dev.kiln.vm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;

/**
 * Keeps a guest's log file (which the VMM appends to, O_APPEND) within a cap: once the bytes already read
 * pass it, all but the last {@code keep} of them are cut out of the file in place (fallocate's
 * collapse-range, which the VMM's appends cannot race) and the file's first block says so. A guest
 * printing 300 MB grew its console log by 300 MB on the host before.
 */
final class LogCap {
    static final long DEFAULT_CAP = 8L << 20;
    static final long DEFAULT_KEEP = 4L << 20;
    /** Collapse-range works in file-system blocks; the first one is kept for the notice. */
    static final int BLOCK = 4096;

    private final Path file;
    private final long cap;
    private final long keep;
    private long dropped;
    private boolean unsupported;

    LogCap(Path file, long cap, long keep) {
        if (keep >= cap || cap < 2 * BLOCK) {
            throw new IllegalArgumentException("a log cap of %d bytes cannot keep %d".formatted(cap, keep));
        }
        this.file = file;
        this.cap = cap;
        this.keep = keep;
    }

    /** Cuts the file when {@code consumed} (bytes read from its start) passed the cap; returns the bytes cut. */
    long trim(long consumed) {
        if (unsupported || consumed <= cap) {
            return 0;
        }
        long end = (consumed - keep) / BLOCK * BLOCK;
        if (end <= BLOCK) {
            return 0;
        }
        long length = end - BLOCK;
        HostCommand.Result result = HostCommand.execute(List.of("fallocate", "--collapse-range", "--offset",
                Integer.toString(BLOCK), "--length", Long.toString(length), file.toString()), null);
        if (!result.ok()) {
            unsupported = true;
            EngineWarmup.logger(LogCap.class).warn("cannot cap the guest log {} ({}): it grows as the guest writes", file, result.stderr().strip());
            return 0;
        }
        dropped += length;
        byte[] notice = Arrays.copyOf(("[kiln: this log is capped at %d KiB: %d bytes of it after this block were"
                + " dropped; what follows is its tail]").formatted(cap >> 10, dropped)
                .getBytes(StandardCharsets.US_ASCII), BLOCK);
        Arrays.fill(notice, notice.length - 1, notice.length, (byte) '\n');
        for (int i = 0; i < notice.length - 1; i++) {
            if (notice[i] == 0) {
                notice[i] = ' ';
            }
        }
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(notice), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the cap's notice in " + file, e);
        }
        return length;
    }
}
