package dev.kiln.server.images;

import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Map;

/**
 * A Debian archive's {@code Release} file (the signed text of {@code InRelease}), as far as the security check needs
 * it: which suite it describes, until when it is valid, and the SHA-256 and size of each index it lists.
 *
 * @param codename the suite's codename ({@code bookworm-security}); {@code suite} its alias ({@code oldstable-security})
 * @param validUntil after this apt refuses the file (a stale or replayed mirror), or null where it says nothing
 */
record ReleaseFile(String codename, String suite, Instant validUntil, Map<String, Entry> sha256) {
    /** One index file the Release lists: its SHA-256 (hex) and size in bytes. */
    record Entry(String sha256, long size) {}

    ReleaseFile {
        sha256 = Map.copyOf(sha256);
    }

    /** Parses the text; an {@link IllegalArgumentException} says what in it is wrong. */
    static ReleaseFile parse(String text) {
        Map<String, String> fields = new HashMap<>();
        Map<String, Entry> files = new HashMap<>();
        String field = null;
        for (String line : text.split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            if (line.startsWith(" ") || line.startsWith("\t")) {
                if ("SHA256".equals(field)) {
                    String[] parts = line.strip().split("\\s+");
                    if (parts.length != 3 || !parts[0].matches("[0-9a-f]{64}") || !parts[1].matches("[0-9]{1,15}")) {
                        throw new IllegalArgumentException("its SHA256 line '" + line.strip() + "' is not 'HASH SIZE PATH'");
                    }
                    files.put(parts[2], new Entry(parts[0], Long.parseLong(parts[1])));
                }
                continue;
            }
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("its line '" + line + "' is not 'Field: value'");
            }
            field = line.substring(0, colon);
            fields.put(field, line.substring(colon + 1).strip());
        }
        if (!fields.containsKey("SHA256")) {
            throw new IllegalArgumentException("it has no SHA256 field: its indexes cannot be verified");
        }
        Instant validUntil = null;
        String until = fields.get("Valid-Until");
        if (until != null) {
            try {
                // Debian writes "Fri, 11 Dec 2026 03:54:28 UTC"; RFC 1123 spells the zone GMT.
                validUntil = ZonedDateTime.parse(until.replaceFirst(" UTC$", " GMT"), DateTimeFormatter.RFC_1123_DATE_TIME)
                        .toInstant();
            } catch (DateTimeParseException e) {
                throw new IllegalArgumentException("its Valid-Until '" + until + "' is not a date such as"
                        + " 'Fri, 11 Dec 2026 03:54:28 UTC'", e);
            }
        }
        return new ReleaseFile(fields.getOrDefault("Codename", ""), fields.getOrDefault("Suite", ""), validUntil, files);
    }

    boolean describes(String name) {
        return codename.equals(name) || suite.equals(name);
    }
}
