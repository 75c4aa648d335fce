package dev.kiln.vm;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The read-only config drive: a raw block device holding a tar archive (busybox and GNU tar read it
 * straight from the device) with config.json, the authoritative settings, and the same settings
 * rendered for shell inits.
 */
final class ConfigDrive {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final int BLOCK = 512;

    private ConfigDrive() {}

    static void write(GuestConfig config, Path file) throws IOException {
        Map<String, byte[]> members = new LinkedHashMap<>();
        members.put("config.json", JSON.writeValueAsBytes(config));
        members.put("kiln.env", config.shellEnv().getBytes(StandardCharsets.UTF_8));
        members.put("job.env", config.jobEnv().getBytes(StandardCharsets.UTF_8));
        members.put("command.sh", config.commandScript().getBytes(StandardCharsets.UTF_8));
        if (config.runnerJitConfig() != null) {
            members.put("jitconfig", config.runnerJitConfig().getBytes(StandardCharsets.UTF_8));
        }
        Files.deleteIfExists(file);
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try (OutputStream out = Files.newOutputStream(file, StandardOpenOption.WRITE)) {
            for (Map.Entry<String, byte[]> member : members.entrySet()) {
                out.write(header(member.getKey(), member.getValue().length));
                out.write(member.getValue());
                out.write(new byte[padding(member.getValue().length)]);
            }
            out.write(new byte[2 * BLOCK]);
        }
    }

    private static int padding(int length) {
        return (BLOCK - length % BLOCK) % BLOCK;
    }

    /** A POSIX ustar header for a regular file owned by root, mode 0600. */
    static byte[] header(String name, long size) {
        byte[] header = new byte[BLOCK];
        put(header, 0, name, 100);
        put(header, 100, "0000600", 8);
        put(header, 108, "0000000", 8);
        put(header, 116, "0000000", 8);
        put(header, 124, "%011o".formatted(size), 12);
        put(header, 136, "%011o".formatted(0), 12);
        header[156] = '0';
        put(header, 257, "ustar", 6);
        put(header, 263, "00", 2);
        java.util.Arrays.fill(header, 148, 156, (byte) ' ');
        int sum = 0;
        for (byte b : header) {
            sum += b & 0xff;
        }
        put(header, 148, "%06o".formatted(sum), 7);
        header[155] = ' ';
        return header;
    }

    private static void put(byte[] header, int offset, String value, int width) {
        byte[] bytes = value.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length > width) {
            throw new IllegalArgumentException("tar field too long: " + value);
        }
        System.arraycopy(bytes, 0, header, offset, bytes.length);
    }
}
