package dev.kiln.cli;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.github.GitHubProvider;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.server.gitlab.GitLabProvider;
import dev.kiln.server.gitlab.GitLabSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Base64;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** `kiln server`: the control plane (API, store, scheduler) until stopped. */
@Command(name = "server", description = "Runs the Kiln server: the API, the job store and the scheduler.")
final class ServerCommand implements Callable<Integer> {
    @Option(names = "--data-dir", description = "where the embedded database and the admin token live;"
            + " default: $KILN_STATE_DIR/server or /var/lib/kiln/server")
    Path dataDir;

    @Option(names = "--database", description = "jdbc:postgresql://HOST:PORT/DB for PostgreSQL (several replicas);"
            + " default: embedded SQLite in the data dir")
    String database;

    @Option(names = "--database-user", description = "the database user (PostgreSQL)")
    String databaseUser;

    @Option(names = "--database-password-file", description = "a file holding the database password")
    Path databasePasswordFile;

    @Option(names = "--listen", description = "HOST:PORT to serve the API on (default: 127.0.0.1:7878; port 0 picks one)")
    String listen = "127.0.0.1:" + ServerConfig.DEFAULT_PORT;

    @Option(names = "--admin-token-file", description = "a file holding the admin token; default: $KILN_ADMIN_TOKEN,"
            + " else DATA_DIR/admin-token (made on first start)")
    Path adminTokenFile;

    @Option(names = "--images-dir", description = "the images served to agents by digest;"
            + " default: STATE_DIR/images ($KILN_STATE_DIR or /var/lib/kiln)")
    Path imagesDir;

    @Option(names = "--offline-after", converter = Converters.Timeout.class,
            description = "a host silent this long is offline (default: 60s)")
    Duration offlineAfter = ServerConfig.DEFAULT_OFFLINE_AFTER;

    @picocli.CommandLine.Mixin
    SshOptions ssh = new SshOptions();

    @picocli.CommandLine.Mixin
    GitHubOptions github = new GitHubOptions();

    @picocli.CommandLine.Mixin
    GitLabOptions gitlab = new GitLabOptions();

    @picocli.CommandLine.Mixin
    PipelineOptions pipeline = new PipelineOptions();

    final HostOptions host = new HostOptions();

    @Override
    public Integer call() throws InterruptedException {
        GitHubSettings gitHub = github.settings();
        GitLabSettings gitLab = gitlab.settings();
        // Read first: a bad pipeline configuration stops the server before it makes anything.
        Path images = imagesDir != null ? imagesDir : host.stateDir().resolve("images");
        var store = new dev.kiln.images.ImageStore(images);
        var keeper = pipeline.factory(host, store, images);
        Path data = dataDir(dataDir);
        ServerConfig config = config(data);
        KilnServer server = KilnServer.start(config, InstantSource.system(), store, providers(gitHub, gitLab), keeper,
                ssh.config(data));
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "kiln-server-stop"));
        System.out.println("kiln: server listening on " + server.uri()
                + GitHubOptions.webhooksNote(gitHub, server.uri()) + GitLabOptions.webhooksNote(gitLab, server.uri()));
        System.out.flush();
        stopped.await();
        return ExitCodes.OK;
    }

    /** The providers the server runs: each one whose config was given. */
    static java.util.List<dev.kiln.server.Provider.Factory> providers(GitHubSettings gitHub, GitLabSettings gitLab) {
        return java.util.stream.Stream.concat(GitHubProvider.factories(gitHub).stream(), GitLabProvider.factories(gitLab).stream()).toList();
    }

    ServerConfig config(Path data) {
        if (database == null || Files.isDirectory(data)) {
            // 0700, and every file in it 0600: fixed, with a warning, on an install made before.
            dev.kiln.server.DataFiles.secureDirectory(data);
        }
        String url = database != null ? database : "jdbc:sqlite:" + data.resolve("kiln.db");
        String password = databasePasswordFile == null ? null : read(databasePasswordFile);
        int colon = listen.lastIndexOf(':');
        int port;
        try {
            port = Integer.parseInt(listen.substring(colon + 1));
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "--listen '" + listen + "' is not HOST:PORT");
        }
        return ServerConfig.defaults(url, adminToken(data)).withListen(colon <= 0 ? "127.0.0.1"
                : listen.substring(0, colon), port).withDatabaseLogin(databaseUser, password)
                .withLiveness(offlineAfter, Duration.ofSeconds(1));
    }

    private String adminToken(Path data) {
        if (adminTokenFile != null) {
            return read(adminTokenFile);
        }
        String fromEnv = System.getenv("KILN_ADMIN_TOKEN");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return fromEnv.strip();
        }
        return tokenFile(data);
    }

    /** The admin token in DATA_DIR/admin-token, made (mode 0600) on first use. */
    static String tokenFile(Path data) {
        Path file = data.resolve("admin-token");
        try {
            if (!Files.exists(file)) {
                dev.kiln.server.DataFiles.secureDirectory(data);
                byte[] random = new byte[32];
                new SecureRandom().nextBytes(random);
                Path temp = Files.createTempFile(data, ".admin-token", ".tmp",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
                Files.writeString(temp, "kiln-admin-" + Base64.getUrlEncoder().withoutPadding().encodeToString(random) + "\n");
                Files.move(temp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                System.err.println("kiln: made the admin token in " + file + " (give it to the CLI as KILN_TOKEN)");
            }
            return read(file);
        } catch (IOException e) {
            throw new KilnException(ErrorCode.HOST_PREREQUISITE_MISSING, "cannot make the admin token in " + file
                    + ": " + e.getMessage(), e);
        }
    }

    static Path dataDir(Path given) {
        if (given != null) {
            return given;
        }
        String state = System.getenv("KILN_STATE_DIR");
        return (state == null || state.isBlank() ? Path.of("/var/lib/kiln") : Path.of(state)).resolve("server");
    }

    private static String read(Path file) {
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
