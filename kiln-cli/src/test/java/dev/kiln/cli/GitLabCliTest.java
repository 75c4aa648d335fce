package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.FakeGitLabHooks;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * `kiln server --github-config --gitlab-config` in a process of its own serves both providers: a GitLab Job Hook
 * from FakeGitLab and a GitHub webhook from FakeGitHub each make their demand; `kiln up` refuses a bad GitLab config
 * before it makes anything. No host: the demands wait in the queue.
 */
@Timeout(180)
class GitLabCliTest {
    static final String ADMIN = "gitlab-cli-admin-token-0123456789";
    static final String GITLAB_SECRET = "gitlab-cli-hook-secret";

    @TempDir
    Path dir;
    // The server runs on the system clock, as the fakes must then.
    final TestingClock clock = new TestingClock(Instant.now());
    final FakeGitLab gitlab = FakeGitLab.start(clock);
    final KeyPair keys = AppKeys.generate();
    final FakeGitHub github = FakeGitHub.start(GitHubCliTest.APP_ID, keys.getPublic(), clock);

    @AfterEach
    void close() {
        gitlab.close();
        github.close();
    }

    /** A GitLab config serving acme/widgets, whose access token and hook secret sit in files of their own. */
    Path gitlabConfig() throws Exception {
        gitlab.addGroup("acme");
        gitlab.addProject("acme/widgets");
        gitlab.addUser("kiln-bot", false);
        gitlab.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        Path token = Files.writeString(dir.resolve("gitlab-token"),
                gitlab.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api") + "\n");
        Path secret = Files.writeString(dir.resolve("gitlab-secret"), GITLAB_SECRET + "\n");
        return Files.writeString(dir.resolve("gitlab.properties"), "url=" + gitlab.url() + "\ntoken-file=" + token
                + "\nwebhook-secret-file=" + secret + "\nprojects=acme/widgets\n");
    }

    @Test
    void aServerWithBothConfigsTakesGitLabHooksAndGitHubWebhooks() throws Exception {
        Path gitlabConfig = gitlabConfig();
        github.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        github.addRepository("acme", "widgets");
        Path githubConfig = GitHubCliTest.configFile(dir, keys, github.url());
        int port = KilnProcess.freePort();
        URI uri = URI.create("http://127.0.0.1:" + port);
        try (KilnProcess server = KilnProcess.start(List.of("server", "--data-dir", dir.resolve("server").toString(),
                "--listen", "127.0.0.1:" + port, "--github-config", githubConfig.toString(),
                "--gitlab-config", gitlabConfig.toString()), Map.of("KILN_ADMIN_TOKEN", ADMIN), dir.resolve("server.log"))) {
            // The log says "listening on" first (that made it ready); the start-up line follows.
            await().atMost(Duration.ofSeconds(30)).until(() -> server.output().contains("kiln: server listening on"));
            assertThat(server.output()).contains("GitHub App " + GitHubCliTest.APP_ID + " webhooks on " + uri + "/webhooks/github")
                    .contains("GitLab " + gitlab.url() + " Job Hooks on " + uri + "/webhooks/gitlab");
            // The GitLab reconcile at start has asked once: the demand below is the hook's doing.
            await().atMost(Duration.ofSeconds(60)).until(() -> gitlab.requests().containsKey("GET /projects/:id/jobs"));
            gitlab.hooks().sendTo(uri.resolve("/webhooks/gitlab"), GITLAB_SECRET);
            github.webhooks().sendTo(uri.resolve("/webhooks/github"), GitHubCliTest.SECRET);

            long gitlabJob = gitlab.queueJob("acme/widgets", "build", List.of("kiln-2cpu-4gb"), "make");
            github.queueJob("acme", "widgets", "test", List.of("kiln"), "true");
            KilnClient client = new KilnClient(uri, ADMIN);
            await().atMost(Duration.ofSeconds(60)).until(() -> client.jobs(null, 10).size() == 2);
            JobView fromGitLab = client.jobs(null, 10).stream().filter(j -> j.kind().equals("gitlab")).findFirst().orElseThrow();
            assertThat(fromGitLab.repo()).isEqualTo("acme/widgets");
            assertThat(fromGitLab.cpus()).isEqualTo(2);
            assertThat(fromGitLab.state()).isEqualTo(JobState.QUEUED);
            assertThat(client.job(fromGitLab.id()).timeline().getFirst().detail()).contains("GitLab job " + gitlabJob + " (");
            assertThat(client.jobs(null, 10)).extracting(JobView::kind).containsExactlyInAnyOrder("gitlab", "github");
            assertThat(gitlab.hooks().deliveries()).extracting(FakeGitLabHooks.Delivery::status).containsOnly(202);
            assertThat(hookOutcomes()).as("the pending hook made the demand").anyMatch(o -> o.contains(": demand " + fromGitLab.id()));
            assertThat(server.stop()).as("kiln server stops cleanly on SIGTERM").isIn(0, 143);
            assertThat(server.output()).doesNotContain(GITLAB_SECRET).doesNotContain(Files.readString(dir.resolve("gitlab-token")).strip());
        }
    }

    private List<String> hookOutcomes() throws Exception {
        try (var connection = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("server/kiln.db"));
             var result = connection.createStatement().executeQuery("SELECT outcome FROM gitlab_hooks WHERE outcome IS NOT NULL")) {
            List<String> outcomes = new ArrayList<>();
            while (result.next()) {
                outcomes.add(result.getString(1));
            }
            return outcomes;
        }
    }

    @Test
    void kilnUpRefusesABadGitLabConfigBeforeItMakesOrStartsAnything() throws Exception {
        Path state = dir.resolve("state");
        Path bad = Files.writeString(dir.resolve("bad.properties"), Files.readString(gitlabConfig())
                .replace("projects=", "project=") + "token=glpat-in-the-file\n");
        String[] refused = GitHubCliTest.run("up", "--state-dir", state.toString(), "--gitlab-config", bad.toString());
        assertThat(refused[0]).isEqualTo(Integer.toString(ExitCodes.USAGE));
        assertThat(refused[2]).contains("the GitLab config (" + bad + ") has 3 problems")
                .contains("unknown key 'project' (did you mean 'projects'?)")
                .contains("token: secrets must not sit in the config file").contains("no project or group to serve");
        assertThat(String.join("\n", refused)).doesNotContain(GITLAB_SECRET).doesNotContain("glpat-in-the-file");
        assertThat(state).as("nothing made: no database, no admin token, no agent state").doesNotExist();
    }
}
