package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.core.type.TypeReference;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Keeps a job's environment sealed in the store: values such as {@code DEPLOY_TOKEN} were readable in the
 * database and its write-ahead log. AES-256-GCM as for runner credentials ({@link Seal}), under a key derived
 * from the admin token: every replica has it, the database does not (only the server's config or its
 * 0600 file holds it). Changing the admin token leaves the environments of jobs not yet launched
 * unreadable; such a launch fails with a message saying so.
 *
 * <p>Stored form: {@code sealed:v1:BASE64} of the JSON object; an empty environment stays {@code {}}. Rows
 * written before sealing hold the JSON object itself and are still read (and sealed at start, see
 * {@link EnvResealing}).
 */
final class EnvSeal {
    static final String PREFIX = "sealed:v1:";
    private static final String PURPOSE = "kiln job-env seal v1\n";

    private final Seal seal;

    EnvSeal(String adminToken) {
        requireNonNull(adminToken, "adminToken is null");
        this.seal = new Seal(PURPOSE, adminToken.getBytes(StandardCharsets.UTF_8));
    }

    String seal(Map<String, String> env) {
        return env.isEmpty() ? "{}" : PREFIX + seal.seal(JobStore.json(env));
    }

    /** The environment of a stored row (sealed or from before sealing). */
    Map<String, String> open(String jobId, String stored) {
        if (!isSealed(stored)) {
            return JobStore.read(stored, new TypeReference<Map<String, String>>() {});
        }
        String json = seal.open(stored.substring(PREFIX.length()));
        if (json == null) {
            throw new KilnException(ErrorCode.INTERNAL, "the environment of job " + jobId + " was sealed under another"
                    + " admin token (or is damaged) and cannot be opened; cancel the job and submit it again");
        }
        return JobStore.read(json, new TypeReference<Map<String, String>>() {});
    }

    static boolean isSealed(String stored) {
        return stored.startsWith(PREFIX);
    }
}
