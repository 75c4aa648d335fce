package dev.kiln.agent;

import dev.kiln.api.LogChunk;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * VMs' output waiting for upload, numbered per VM so that the server stores a resent chunk once. Bytes
 * are cut at UTF-8 character boundaries. A VM that writes faster than the server takes keeps at most
 * {@link #MAX_PENDING} bytes; the rest is dropped with a note. Thread-safe.
 */
final class LogBuffer {
    static final int MAX_PENDING = 8 << 20;
    static final int MAX_CHUNK = 64 * 1024;

    private static final class Stream {
        final ByteArrayOutputStream pending = new ByteArrayOutputStream();
        long dropped;
    }

    private final Map<String, Map<String, Stream>> streams = new LinkedHashMap<>();
    private final Map<String, Long> sequences = new LinkedHashMap<>();
    /** Taken but not yet acknowledged by the server: resent as they are. */
    private final List<LogChunk> inFlight = new ArrayList<>();

    synchronized void append(String vm, String stream, byte[] bytes, int offset, int length) {
        Stream s = streams.computeIfAbsent(vm, v -> new LinkedHashMap<>()).computeIfAbsent(stream, n -> new Stream());
        int room = MAX_PENDING - s.pending.size();
        int take = Math.min(room, length);
        s.pending.write(bytes, offset, take);
        s.dropped += length - take;
    }

    /** The chunks to upload now (those of a failed upload first). */
    synchronized List<LogChunk> take() {
        if (!inFlight.isEmpty()) {
            return List.copyOf(inFlight);
        }
        for (var vm : streams.entrySet()) {
            for (var entry : vm.getValue().entrySet()) {
                Stream s = entry.getValue();
                byte[] bytes = s.pending.toByteArray();
                int end = boundary(bytes);
                for (int from = 0; from < end; ) {
                    int to = Math.min(end, from + MAX_CHUNK);
                    while (to < end && (bytes[to] & 0xC0) == 0x80) {
                        to--;
                    }
                    inFlight.add(chunk(vm.getKey(), entry.getKey(), new String(bytes, from, to - from, StandardCharsets.UTF_8)));
                    from = to;
                }
                s.pending.reset();
                s.pending.write(bytes, end, bytes.length - end);
                if (s.dropped > 0) {
                    inFlight.add(chunk(vm.getKey(), entry.getKey(), "\n[kiln: " + s.dropped
                            + " bytes of output dropped: the server did not keep up]\n"));
                    s.dropped = 0;
                }
            }
        }
        return List.copyOf(inFlight);
    }

    synchronized void uploaded() {
        inFlight.clear();
    }

    /** Whether the VM has nothing left to upload (an incomplete character at the end is let go). */
    synchronized boolean drained(String vm) {
        if (inFlight.stream().anyMatch(c -> c.vm().equals(vm))) {
            return false;
        }
        Map<String, Stream> vmStreams = streams.get(vm);
        return vmStreams == null || vmStreams.values().stream().allMatch(s -> boundary(s.pending.toByteArray()) == 0);
    }

    synchronized void forget(String vm) {
        streams.remove(vm);
        sequences.remove(vm);
    }

    private LogChunk chunk(String vm, String stream, String text) {
        long sequence = sequences.merge(vm, 1L, Long::sum) - 1;
        return new LogChunk(vm, sequence, stream, text);
    }

    /** The length of the prefix that ends on a whole UTF-8 character. */
    static int boundary(byte[] bytes) {
        int end = bytes.length;
        int i = end - 1;
        int back = 0;
        while (i >= 0 && back < 3 && (bytes[i] & 0xC0) == 0x80) {
            i--;
            back++;
        }
        if (i < 0) {
            return end;
        }
        int lead = bytes[i] & 0xFF;
        int need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        return end - i >= need ? end : i;
    }
}
