package dev.kiln.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.AgentClient;
import dev.kiln.api.EnrolAnswer;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The host's lasting credential, kept in {@code <state>/agent/credentials.json} (mode 0600) so that a
 * restarted agent needs no new enrolment token.
 */
public final class Enrolment {
    private static final Logger log = LoggerFactory.getLogger(Enrolment.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What is kept: the server it belongs to, the host's name and its token. */
    public record Credentials(String server, String host, String hostToken) {
        @Override
        public String toString() {
            return "Credentials[server=" + server + ", host=" + host + ", hostToken=***]";
        }
    }

    private Enrolment() {}

    /**
     * The kept credentials for this server, or a new enrolment with the one-time token when there are
     * none (or they belong to another server).
     */
    public static Credentials credentials(URI server, String enrolmentToken, Path stateDir) {
        Path file = stateDir.resolve("agent").resolve("credentials.json");
        if (Files.exists(file)) {
            try {
                Credentials kept = JSON.readValue(file.toFile(), Credentials.class);
                if (kept.server().equals(server.toString())) {
                    return kept;
                }
                log.info("the kept credentials of {} are for {}, not {}; enrolling anew", file, kept.server(), server);
            } catch (IOException e) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the agent's credentials in " + file
                        + ": " + e.getMessage() + "; remove the file and enrol again with a new token", e);
            }
        }
        if (enrolmentToken == null || enrolmentToken.isBlank()) {
            throw new KilnException(ErrorCode.UNAUTHENTICATED, "this agent is not enrolled with " + server
                    + " (no " + file + "); run `kiln hosts add NAME` there and pass its token with --token");
        }
        EnrolAnswer answer = AgentClient.enrol(server, enrolmentToken);
        Credentials credentials = new Credentials(server.toString(), answer.host(), answer.hostToken());
        keep(file, credentials);
        log.info("enrolled with {} as host {}", server, answer.host());
        return credentials;
    }

    /**
     * For an agent in its server's own process (`kiln up`): the kept credentials of host {@code host},
     * moved to the server's address when it now listens elsewhere (same database, so the host's token
     * stands); empty when there are none for that host, and the agent enrols with a new token.
     */
    public static java.util.Optional<Credentials> followServer(URI server, String host, Path stateDir) {
        Path file = stateDir.resolve("agent").resolve("credentials.json");
        if (!Files.exists(file)) {
            return java.util.Optional.empty();
        }
        Credentials kept;
        try {
            kept = JSON.readValue(file.toFile(), Credentials.class);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the agent's credentials in " + file
                    + ": " + e.getMessage() + "; remove the file and start again", e);
        }
        if (!kept.host().equals(host)) {
            return java.util.Optional.empty();
        }
        if (!kept.server().equals(server.toString())) {
            Credentials moved = new Credentials(server.toString(), kept.host(), kept.hostToken());
            keep(file, moved);
            log.info("the server moved from {} to {}: host {} follows it", kept.server(), server, kept.host());
            return java.util.Optional.of(moved);
        }
        return java.util.Optional.of(kept);
    }

    private static void keep(Path file, Credentials credentials) {
        try {
            Files.createDirectories(file.getParent());
            Path temp = Files.createTempFile(file.getParent(), ".credentials", ".tmp",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            JSON.writeValue(temp.toFile(), credentials);
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "enrolled as host " + credentials.host()
                    + " but cannot keep the credentials in " + file + ": " + e.getMessage(), e);
        }
    }
}
