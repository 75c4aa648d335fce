package dev.kiln.server;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.AgentClient;
import dev.kiln.api.AgentReport;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets at rest, through a real server on SQLite: the data directory is its owner's alone after a start
 * (an install made with the usual umask is fixed, with a warning), and a job's environment value reaches
 * the agent's launch but no byte of the database files (WAL included), no log line and no API answer.
 */
@Timeout(120)
class AtRestTest {
    static final String ADMIN = "at-rest-admin-token-0123456789";
    static final String SECRET = "DeployToken-9c1e7a55-not-for-the-disk";

    @TempDir
    Path tmp;
    Path data;
    final ByteArrayOutputStream log = new ByteArrayOutputStream();
    PrintStream originalErr;
    KilnServer server;

    @BeforeEach
    void captureTheLog() {
        // slf4j-simple writes to whatever System.err is at the time of each line.
        originalErr = System.err;
        System.setErr(new PrintStream(new TeeStream(originalErr, log), true, UTF_8));
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        System.setErr(originalErr);
    }

    @Test
    void theDataDirectoryIsItsOwnersAloneAndAnExistingInstallIsFixedWithAWarning() throws Exception {
        data = tmp.resolve("server");
        Files.createDirectory(data, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path token = Files.writeString(data.resolve("admin-token"), ADMIN + "\n");
        Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-r--r--"));
        Path keys = Files.createDirectory(data.resolve("keys"));
        Files.setPosixFilePermissions(keys, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(Files.writeString(keys.resolve("app.pem"), "key"), PosixFilePermissions.fromString("rw-rw-r--"));

        DataFiles.secureDirectory(data);
        start();
        KilnClient client = new KilnClient(server.uri(), ADMIN);
        client.submit(JobRequest.command(List.of("true"), 1, 256, 1));

        assertThat(Files.list(data).map(p -> p.getFileName().toString()).toList())
                .contains("kiln.db", "kiln.db-wal", "kiln.db-shm", "admin-token", "keys");
        assertThat(mode(data)).isEqualTo("rwx------");
        assertThat(mode(keys)).isEqualTo("rwx------");
        try (Stream<Path> files = Files.walk(data)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                assertThat(mode(file)).as(file.toString()).isEqualTo("rw-------");
            }
        }
        assertThat(log.toString(UTF_8)).contains("are now their owner's alone").contains(token + " (was rw-r--r--)")
                .contains(keys.resolve("app.pem") + " (was rw-rw-r--)");

        // A fresh install: made 0700 at once, the database 0600 from its first byte.
        Path fresh = tmp.resolve("fresh").resolve("server");
        DataFiles.secureDirectory(fresh);
        assertThat(mode(fresh)).isEqualTo("rwx------");
        DataFiles.secureSqlite("jdbc:sqlite:" + fresh.resolve("kiln.db"));
        assertThat(mode(fresh.resolve("kiln.db"))).isEqualTo("rw-------");
    }

    @Test
    void aJobsEnvironmentValueReachesTheAgentButNotTheDiskTheLogOrTheApi() throws Exception {
        data = tmp.resolve("server");
        DataFiles.secureDirectory(data);
        start();
        KilnClient client = new KilnClient(server.uri(), ADMIN);
        AgentClient agent = new AgentClient(server.uri(), AgentClient.enrol(server.uri(),
                client.addHost("h1").enrolmentToken()).hostToken());
        agent.sync(report(1, null), Duration.ZERO);
        JobView job = client.submit(new JobRequest(List.of("sh", "-c", "deploy"), Map.of("DEPLOY_TOKEN", SECRET,
                "PLAIN", "visible-name-only"), null, null, 1, 256L, 1, null, null, null, null, null));

        VmLaunch launch = await().atMost(Duration.ofSeconds(20)).until(() -> {
            SyncAnswer answer = agent.sync(report(2, null), Duration.ZERO);
            return answer.vms().stream().filter(vm -> vm.job().equals(job.id())).findFirst().orElse(null);
        }, java.util.Objects::nonNull);
        assertThat(launch.env()).containsEntry("DEPLOY_TOKEN", SECRET);

        List<String> answers = new ArrayList<>();
        for (String path : List.of("/api/v1/jobs", "/api/v1/jobs/" + job.id(), "/api/v1/jobs/" + job.id() + "/logs",
                "/api/v1/vms", "/api/v1/hosts", "/api/v1/hosts/h1")) {
            answers.add(get(path));
        }
        assertThat(answers).allSatisfy(answer -> assertThat(answer).doesNotContain(SECRET));
        // Every byte of every file, while the server runs (WAL and shared memory) and once it stopped.
        assertNotOnDisk(SECRET);
        server.close();
        server = null;
        assertNotOnDisk(SECRET);
        assertThat(log.toString(UTF_8)).contains("Kiln server listening").doesNotContain(SECRET);
    }

    @Test
    void anEnvironmentStoredInTheClearByAnEarlierKilnIsSealedAtStartAndGoneFromTheFiles() throws Exception {
        data = tmp.resolve("server");
        DataFiles.secureDirectory(data);
        start();
        JobView job = new KilnClient(server.uri(), ADMIN).submit(JobRequest.command(List.of("true"), 1, 256, 1));
        server.close();
        server = null;
        // As a Kiln before sealing wrote it.
        try (var db = java.sql.DriverManager.getConnection("jdbc:sqlite:" + data.resolve("kiln.db"));
                var update = db.prepareStatement("UPDATE jobs SET env = ? WHERE id = ?")) {
            update.setString(1, "{\"DEPLOY_TOKEN\":\"" + SECRET + "\"}");
            update.setString(2, job.id());
            assertThat(update.executeUpdate()).isEqualTo(1);
        }
        assertThat(onDisk(SECRET)).as("the old row is on disk before the start").isTrue();

        start();
        assertThat(log.toString(UTF_8)).contains("sealed the environment of 1 job(s) stored in the clear");
        assertNotOnDisk(SECRET);
        try (var db = java.sql.DriverManager.getConnection("jdbc:sqlite:" + data.resolve("kiln.db"));
                var query = db.prepareStatement("SELECT env FROM jobs WHERE id = ?")) {
            query.setString(1, job.id());
            try (var row = query.executeQuery()) {
                assertThat(row.next()).isTrue();
                assertThat(row.getString(1)).startsWith(EnvSeal.PREFIX);
                assertThat(new EnvSeal(ADMIN).open(job.id(), row.getString(1))).containsEntry("DEPLOY_TOKEN", SECRET);
            }
        }
    }

    private void start() {
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + data.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0), InstantSource.system());
    }

    private void assertNotOnDisk(String secret) throws Exception {
        assertThat(onDisk(secret)).as("'" + secret + "' in a file under " + data).isFalse();
    }

    private boolean onDisk(String secret) throws Exception {
        byte[] needle = secret.getBytes(UTF_8);
        try (Stream<Path> files = Files.walk(data)) {
            for (Path file : files.filter(Files::isRegularFile).toList()) {
                byte[] bytes = Files.readAllBytes(file);
                for (int i = 0; i + needle.length <= bytes.length; i++) {
                    if (java.util.Arrays.equals(bytes, i, i + needle.length, needle, 0, needle.length)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    private String get(String path) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(server.uri() + path))
                    .header("Authorization", "Bearer " + ADMIN).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).as(path).isEqualTo(200);
            return answer.body();
        }
    }

    private static AgentReport report(long sequence, String desiredVersion) {
        return new AgentReport("boot", sequence, "test", "x86_64", 4, 8192, 10, desiredVersion, List.of());
    }

    private static String mode(Path path) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path));
    }

    /** Writes to two streams. */
    private static final class TeeStream extends java.io.OutputStream {
        private final java.io.OutputStream one;
        private final java.io.OutputStream two;

        TeeStream(java.io.OutputStream one, java.io.OutputStream two) {
            this.one = one;
            this.two = two;
        }

        @Override
        public synchronized void write(int b) throws java.io.IOException {
            one.write(b);
            two.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) throws java.io.IOException {
            one.write(b, off, len);
            two.write(b, off, len);
        }
    }
}
