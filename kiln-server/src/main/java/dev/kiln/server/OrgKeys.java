package dev.kiln.server;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The public keys an operator lets into the debugging shells of one organisation's jobs: a folder holding one
 * authorized_keys file per organisation, named as the organisation ({@code DIR/acme}). Read at each use, so that a
 * key added applies to the next launch and the next connection.
 */
final class OrgKeys {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,99}");
    static final OrgKeys NONE = new OrgKeys(null);

    private final Path dir;

    /** @param dir the folder, or null for none */
    OrgKeys(Path dir) {
        this.dir = dir;
    }

    /** The keys of {@code org}: none for an organisation without a file (or a name that cannot be one). */
    List<String> of(String org) {
        if (dir == null || org == null || !NAME.matcher(org).matches()) {
            return List.of();
        }
        Path file = dir.resolve(org);
        return Files.isRegularFile(file) ? SshKeys.read(file) : List.of();
    }
}
