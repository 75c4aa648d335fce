package dev.kiln.vm;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.util.List;

/**
 * A VM's debugging shell: the guest's sshd starts with this host key and lets `runner` in with these public keys
 * (authorized_keys lines), from the host's end of the tap only.
 */
public record GuestSsh(SshHostKey hostKey, List<String> authorizedKeys) {
    public GuestSsh {
        requireNonNull(hostKey, "hostKey is null");
        authorizedKeys = List.copyOf(authorizedKeys);
        for (String key : authorizedKeys) {
            if (key.isBlank() || key.contains("\n") || key.contains("\r")) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT,
                        "an SSH authorized key must be one non-empty line, got " + key.length() + " characters");
            }
        }
    }

    String authorizedKeysFile() {
        return authorizedKeys.isEmpty() ? "" : String.join("\n", authorizedKeys) + "\n";
    }
}
