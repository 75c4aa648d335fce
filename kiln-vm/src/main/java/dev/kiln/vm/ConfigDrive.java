package dev.kiln.vm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The read-only config drive: a raw block device holding a tar archive (busybox and GNU tar read it
 * straight from the device) with config.json, the authoritative settings, and the same settings
 * rendered for shell inits.
 */
final class ConfigDrive {
    private static final JsonFactory JSON = new JsonFactory();
    private static final int BLOCK = 512;

    private ConfigDrive() {}

    static void write(GuestConfig config, Path file) throws IOException {
        Map<String, byte[]> members = new LinkedHashMap<>();
        members.put("config.json", json(config));
        members.put("kiln.env", config.shellEnv().getBytes(StandardCharsets.UTF_8));
        members.put("job.env", config.jobEnv().getBytes(StandardCharsets.UTF_8));
        members.put("command.sh", config.commandScript().getBytes(StandardCharsets.UTF_8));
        byte[] argv = config.commandArgv();
        if (argv != null) {
            members.put("command.argv", argv);
        }
        if (config.runnerJitConfig() != null) {
            members.put("jitconfig", config.runnerJitConfig().getBytes(StandardCharsets.UTF_8));
        }
        if (config.ssh() != null) {
            // kiln-init starts sshd with them: the VM's own host key (a secret) and who may log in as `runner`.
            members.put("ssh_host_key", config.ssh().hostKey().privateKey().getBytes(StandardCharsets.US_ASCII));
            members.put("ssh_authorized_keys", config.ssh().authorizedKeysFile().getBytes(StandardCharsets.UTF_8));
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

    /**
     * config.json, written with Jackson's streaming generator: its object mapper would take ~0.1 s to
     * get going in a fresh `kiln run`. The format is the record's, as a mapper would write it.
     */
    static byte[] json(GuestConfig config) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (JsonGenerator out = JSON.createGenerator(bytes).useDefaultPrettyPrinter()) {
            out.writeStartObject();
            out.writeStringField("vmId", config.vmId());
            out.writeStringField("hostname", config.hostname());
            out.writeStringField("nonce", config.nonce());
            if (config.network() == null) {
                out.writeNullField("network");
            } else {
                out.writeObjectFieldStart("network");
                out.writeStringField("guestAddress", config.network().guestAddress());
                out.writeNumberField("prefix", config.network().prefix());
                out.writeStringField("gateway", config.network().gateway());
                writeStrings(out, "dns", config.network().dns());
                out.writeEndObject();
            }
            writeStrings(out, "command", config.command());
            out.writeObjectFieldStart("env");
            for (var variable : config.env().entrySet()) {
                out.writeStringField(variable.getKey(), variable.getValue());
            }
            out.writeEndObject();
            out.writeNumberField("deadlineSeconds", config.deadlineSeconds());
            out.writeStringField("runnerJitConfig", config.runnerJitConfig());
            if (config.ssh() == null) {
                out.writeNullField("ssh");
            } else {
                out.writeObjectFieldStart("ssh");
                out.writeObjectFieldStart("hostKey");
                out.writeStringField("privateKey", config.ssh().hostKey().privateKey());
                out.writeStringField("publicKey", config.ssh().hostKey().publicKey());
                out.writeEndObject();
                writeStrings(out, "authorizedKeys", config.ssh().authorizedKeys());
                out.writeEndObject();
            }
            out.writeEndObject();
        }
        return bytes.toByteArray();
    }

    private static void writeStrings(JsonGenerator out, String field, List<String> values) throws IOException {
        out.writeArrayFieldStart(field);
        for (String value : values) {
            out.writeString(value);
        }
        out.writeEndArray();
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
