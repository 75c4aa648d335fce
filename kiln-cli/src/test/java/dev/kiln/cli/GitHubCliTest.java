package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.agent.Agent;
import dev.kiln.agent.AgentConfig;
import dev.kiln.agent.Capacity;
import dev.kiln.agent.Enrolment;
import dev.kiln.agent.SimulatedVmm;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.Arch;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.github.GitHubProvider;
import dev.kiln.server.github.GitHubSettings;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** `kiln github check` and `kiln jobs` against a server on a fake GitHub with a simulated host (no VM boots). */
@Timeout(120)
class GitHubCliTest {
    static final long APP_ID = 777;
    static final String ADMIN = "github-cli-admin-token-0123456789";
    static final String SECRET = "cli-webhook-secret";

    @TempDir
    Path dir;
    // `kiln github check` runs on the system clock, as the fake must then.
    final TestingClock clock = new TestingClock(java.time.Instant.now());
    final KeyPair keys = AppKeys.generate();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, keys.getPublic(), clock);
    KilnServer server;
    Agent agent;

    @AfterEach
    void close() {
        if (agent != null) {
            agent.close();
        }
        if (server != null) {
            server.close();
        }
        fake.close();
    }

    Path configFile() throws Exception {
        return configFile(dir, keys, fake.url());
    }

    /** A GitHub config in {@code dir} for the App {@link #APP_ID} with these keys on the fake at {@code url}. */
    static Path configFile(Path dir, KeyPair keys, URI url) throws Exception {
        Path key = dir.resolve("app.pem");
        Files.writeString(key, "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder(64, "\n".getBytes())
                .encodeToString(keys.getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n");
        Path secret = dir.resolve("webhook-secret");
        Files.writeString(secret, SECRET + "\n");
        Path file = dir.resolve("github.properties");
        Files.writeString(file, "app-id=" + APP_ID + "\nprivate-key-file=" + key + "\nwebhook-secret-file=" + secret
                + "\nurl=" + url + "\napi-url=" + url + "\n");
        return file;
    }

    static String[] run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Kiln.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new String[] {Integer.toString(code), out.toString(), err.toString()};
    }

    @Test
    void githubCheckReportsTheAppReadyOrWhatIsMissingWithoutPrintingSecrets() throws Exception {
        Path config = configFile();
        fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        String[] ready = run("github", "check", "--github-config", config.toString());
        assertThat(ready[0]).as(ready[2]).isEqualTo("0");
        assertThat(ready[1]).contains("App " + APP_ID).contains("installation").contains("acme").contains("ready");

        fake.installOnOrganization("bare", Map.of("metadata", "read"));
        String[] missing = run("github", "check", "--github-config", config.toString());
        assertThat(missing[0]).isEqualTo("2");
        assertThat(missing[1]).contains("missing: ").contains("not ready");
        assertThat(String.join("\n", missing)).doesNotContain(SECRET).doesNotContain("PRIVATE KEY");
    }

    @Test
    void kilnUpRefusesAMissingOrBadGitHubConfigBeforeItMakesOrStartsAnything() throws Exception {
        Path state = dir.resolve("state");
        String[] missing = run("up", "--state-dir", state.toString(), "--github-config", dir.resolve("nope.properties").toString());
        assertThat(missing[0]).isEqualTo(Integer.toString(ExitCodes.USAGE));
        assertThat(missing[2]).contains("cannot read the GitHub config " + dir.resolve("nope.properties"));

        Path bad = dir.resolve("bad.properties");
        Files.writeString(bad, Files.readString(configFile()).replace("app-id=", "app-idd=") + "org-cap.acme=many\n");
        String[] refused = run("up", "--state-dir", state.toString(), "--github-config", bad.toString());
        assertThat(refused[0]).isEqualTo(Integer.toString(ExitCodes.USAGE));
        assertThat(refused[2]).contains("the GitHub config (" + bad + ") has 3 problems")
                .contains("unknown key 'app-idd' (did you mean 'app-id'?)").contains("app-id is missing")
                .contains("org-cap.acme: 'many' is not a positive integer");
        assertThat(String.join("\n", refused)).doesNotContain(SECRET).doesNotContain("PRIVATE KEY");
        assertThat(state).as("nothing made: no database, no admin token, no agent state").doesNotExist();
    }

    /** A server with the App on the fake GitHub (acme/widgets installed) and one simulated host h1 of 4 vCPUs, 8 GiB. */
    private KilnClient serverAndAgent() throws Exception {
        fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("acme", "widgets");
        GitHubApp app = new GitHubApp(GitHubConfig.load(Optional.of(configFile()), Map.of()), HttpClient.newHttpClient(),
                clock, clock::advance);
        server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN).withListen("127.0.0.1", 0),
                clock, null, GitHubProvider.factories(GitHubSettings.defaults(app).withTick(Duration.ofMillis(50))));
        fake.webhooks().sendTo(URI.create(server.uri() + "/webhooks/github"), SECRET);
        KilnClient client = new KilnClient(server.uri(), ADMIN);
        var credentials = Enrolment.credentials(server.uri(), client.addHost("h1").enrolmentToken(), dir.resolve("agent"));
        agent = new Agent(new AgentConfig(server.uri(), credentials.hostToken(), Duration.ofSeconds(25), Duration.ofMillis(200)),
                new SimulatedVmm(new Capacity(Arch.X86_64, 4, 8 * 1024, 100), Duration.ZERO, null));
        agent.start();
        return client;
    }

    @Test
    void kilnJobsShowsRepositoryWorkflowJobLabelsRunnerVmAndHost() throws Exception {
        // The simulated runner VM exits at once, as a command that succeeds: its demand waits for GitHub's word.
        KilnClient client = serverAndAgent();

        fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> client.jobs(null, 10).stream()
                .anyMatch(j -> j.vm() != null && j.github() != null && j.github().runnerName() != null));
        JobView job = client.jobs(null, 10).getFirst();

        String[] listed = run("jobs", "--server", server.uri().toString(), "--token", ADMIN);
        assertThat(listed[0]).as(listed[2]).isEqualTo("0");
        assertThat(listed[1]).contains(job.id()).contains("acme/widgets").contains("ci / build").contains("[kiln-2cpu-4gb]")
                .contains("runner " + GitHubApp.runnerName(job.vm())).contains(job.vm()).contains("h1");
        String[] shown = run("job", job.id(), "--server", server.uri().toString(), "--token", ADMIN);
        assertThat(shown[1]).contains("github   acme/widgets, ci / build").contains("runner   kiln-" + job.vm());
        String[] json = run("jobs", "--json", "--server", server.uri().toString(), "--token", ADMIN);
        assertThat(json[1]).contains("\"runnerName\"").doesNotContain("encoded").doesNotContain("jitConfig");
    }

    @Test
    void kilnJobsAndKilnJobSayWhyAGitHubJobWaitsOrHasNoRunner() throws Exception {
        KilnClient client = serverAndAgent();
        await().atMost(Duration.ofSeconds(30)).until(() -> client.hosts().stream().anyMatch(h -> h.vcpus() > 0));

        fake.queueJob("acme", "widgets", "big", List.of("kiln-16cpu-32gb"), "true");
        fake.queueJob("acme", "widgets", "odd", List.of("kiln-999cpu-9999gb"), "true");
        await().atMost(Duration.ofSeconds(30)).until(() -> client.jobs(null, 10).size() == 2
                && client.jobs(null, 10).stream().allMatch(j -> j.detail() != null));
        JobView waiting = client.jobs(null, 10).stream().filter(j -> j.state() == dev.kiln.core.JobState.QUEUED).findFirst().orElseThrow();

        String[] listed = run("jobs", "--server", server.uri().toString(), "--token", ADMIN);
        assertThat(listed[1]).contains("[kiln-16cpu-32gb]").contains("waits for a host that can hold it")
                .contains("[kiln-999cpu-9999gb]").contains("INVALID_LABEL").contains("999 vCPUs is more than the maximum of 64");
        String[] shown = run("job", waiting.id(), "--server", server.uri().toString(), "--token", ADMIN);
        assertThat(shown[1]).contains("waits    waits for a host that can hold it").contains("h1");
    }
}
