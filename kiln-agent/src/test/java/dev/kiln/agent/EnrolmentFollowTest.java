package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `kiln up`'s own agent follows its server to a new address with the token it has (same database). */
class EnrolmentFollowTest {
    @TempDir
    Path state;

    private void keep(String server, String host) throws Exception {
        Path file = Files.createDirectories(state.resolve("agent")).resolve("credentials.json");
        Files.writeString(file, "{\"server\":\"%s\",\"host\":\"%s\",\"hostToken\":\"kiln-host-secret\"}"
                .formatted(server, host));
    }

    @Test
    void credentialsMoveToTheServersNewAddressAndKeepTheirToken() throws Exception {
        keep("http://127.0.0.1:7878", "local");
        var moved = Enrolment.followServer(URI.create("http://127.0.0.1:9999"), "local", state).orElseThrow();
        assertThat(moved.server()).isEqualTo("http://127.0.0.1:9999");
        assertThat(moved.hostToken()).isEqualTo("kiln-host-secret");
        Path file = state.resolve("agent").resolve("credentials.json");
        assertThat(Files.readString(file)).contains("\"server\":\"http://127.0.0.1:9999\"");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
        // And what a separate agent reads afterwards needs no token.
        assertThat(Enrolment.credentials(URI.create("http://127.0.0.1:9999"), null, state).hostToken())
                .isEqualTo("kiln-host-secret");
    }

    @Test
    void noCredentialsOrAnotherHostsMeanANewEnrolment() throws Exception {
        assertThat(Enrolment.followServer(URI.create("http://127.0.0.1:9999"), "local", state)).isEmpty();
        keep("http://127.0.0.1:7878", "other");
        assertThat(Enrolment.followServer(URI.create("http://127.0.0.1:9999"), "local", state)).isEmpty();
    }
}
