package dev.kiln.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The public keys of an authorized_keys file, as lines a VM's sshd takes (comments and blank lines left out). */
final class SshKeys {
    private SshKeys() {}

    static List<String> read(Path file) {
        try {
            return Files.readAllLines(file).stream().map(String::strip)
                    .filter(line -> !line.isEmpty() && !line.startsWith("#")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the SSH gateway's authorized keys " + file, e);
        }
    }
}
