package dev.kiln.gitlab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.Sleeper;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client against FakeGitLab: what it sends, how it reads GitLab's answers, and how it waits. */
@Timeout(60)
class GitLabClientTest {
    final TestingClock clock = new TestingClock();
    final FakeGitLab fake = FakeGitLab.start(clock);
    final List<Duration> slept = new ArrayList<>();
    final Sleeper sleeper = d -> {
        slept.add(d);
        clock.advance(d);
    };
    final long project;
    final GitLabClient client;

    GitLabClientTest() {
        fake.addGroup("acme");
        project = fake.addProject("acme/widgets");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme", "kiln-bot", FakeGitLab.Role.OWNER);
        client = client(fake.addAccessToken("kiln-bot", "create_runner", "manage_runner", "read_api"));
    }

    GitLabClient client(String token) {
        GitLabConfig config = new GitLabConfig(fake.url(), fake.url(), token, "hook-secret", List.of(), List.of("acme"));
        return new GitLabClient(config, HttpClient.newHttpClient(), sleeper);
    }

    @AfterEach
    void close() {
        fake.close();
    }

    @Test
    void aRunnerIsCreatedForOneJobWithItsTagsNotTakingUntaggedJobsAndDeletedOnce() {
        CreatedRunner runner = client.createProjectRunner(project, List.of("kiln", "kiln-4cpu-8gb"), "kiln-vm-1");
        assertThat(runner.token()).startsWith("glrt-");
        assertThat(runner.toString()).doesNotContain(runner.token());
        assertThat(runner.credential(java.net.URI.create("http://10.0.0.1:8929"))).isEqualTo(
                "{\"kind\":\"gitlab-runner\",\"url\":\"http://10.0.0.1:8929\",\"token\":\"" + runner.token() + "\"}");
        assertThat(fake.runners()).singleElement().satisfies(r -> {
            assertThat(r.id()).isEqualTo(runner.id());
            assertThat(r.type()).isEqualTo("project_type");
            assertThat(r.scope()).isEqualTo("acme/widgets");
            assertThat(r.tags()).containsExactlyInAnyOrder("kiln", "kiln-4cpu-8gb");
            assertThat(r.runUntagged()).isFalse();
            assertThat(r.description()).isEqualTo("kiln-vm-1");
        });
        assertThat(client.deleteRunner(runner.id())).isTrue();
        assertThat(fake.runners()).isEmpty();
        assertThat(client.deleteRunner(runner.id())).as("gone already").isFalse();
        assertThat(client.calls()).containsEntry("POST /user/runners", 1L).containsEntry("DELETE /runners/:id", 2L);
    }

    @Test
    void pendingJobsAreReadAcrossPagesWithTheirTagsAndOneJobByItsId() {
        for (int i = 0; i < 130; i++) {
            fake.queueJob("acme/widgets", "job" + i, List.of("kiln"), "true");
        }
        long tagged = fake.queueJob("acme/widgets", "big", List.of("kiln-4cpu-8gb", "docker"), "true");
        List<GitLabJob> pending = client.pendingJobs("acme/widgets");
        assertThat(pending).hasSize(131);
        assertThat(pending).allSatisfy(j -> {
            assertThat(j.status()).isEqualTo("pending");
            assertThat(j.projectId()).isEqualTo(project);
        });
        assertThat(pending.get(0).id()).isEqualTo(tagged);
        assertThat(pending.get(0).tags()).containsExactly("kiln-4cpu-8gb", "docker");
        assertThat(client.calls()).containsEntry("GET /projects/:id/jobs", 2L);
        GitLabJob described = client.job(project, tagged);
        assertThat(described).usingRecursiveComparison().ignoringFields("pipelineId")
                .isEqualTo(new GitLabJob(tagged, project, "big", "pending", List.of("kiln-4cpu-8gb", "docker"), null));
        assertThat(described.pipelineId()).as("the job's pipeline.id").isPositive();
        assertThat(client.projectsOf("acme")).containsExactly("acme/widgets");
    }

    @Test
    void fiveHundredsAreRetriedWithADoublingBackoffAnd429AfterItsRetryAfter() {
        fake.faults().failNext(2, 503);
        assertThat(client.pendingJobs("acme/widgets")).isEmpty();
        assertThat(slept).containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2));
        slept.clear();
        fake.faults().tooManyRequestsNext(1, 7);
        client.createProjectRunner(project, List.of("kiln"), "kiln-vm-2");
        assertThat(slept).containsExactly(Duration.ofSeconds(7));
        assertThat(fake.requests()).containsEntry("POST /user/runners", 2L);
    }

    @Test
    void aRetryAfterBeyondTheWaitKilnAllowsOrFiveFailuresGiveUpWithTheReason() {
        fake.faults().tooManyRequestsNext(1, 600);
        assertThatThrownBy(() -> client.pendingJobs("acme/widgets")).isInstanceOfSatisfying(GitLabApiException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED);
            assertThat(e.getMessage()).contains("must wait 600 s", "Retry-After 600", "120 s");
        });
        assertThat(slept).isEmpty();
        fake.faults().failNext(5, 502);
        assertThatThrownBy(() -> client.deleteRunner(42)).isInstanceOfSatisfying(GitLabApiException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.UPSTREAM_FAILED);
            assertThat(e.getMessage()).isEqualTo("DELETE /runners/:id failed 5 times; the last answer: HTTP 502 502 Bad Gateway");
        });
        assertThat(slept).containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(8));
    }

    @Test
    void refusalsNameWhatWasAskedGitLabsAnswerAndWhatToCheck() {
        fake.addUser("dev", false);
        fake.addMember("acme/widgets", "dev", FakeGitLab.Role.DEVELOPER);
        GitLabClient developer = client(fake.addAccessToken("dev", "api"));
        assertThatThrownBy(() -> developer.createProjectRunner(project, List.of("kiln"), "kiln-vm-3"))
                .isInstanceOfSatisfying(GitLabApiException.class, e -> {
                    assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED);
                    assertThat(e.status()).isEqualTo(403);
                    assertThat(e.getMessage()).startsWith("creating a runner with tags [kiln] in project " + project
                            + " failed: GitLab answered HTTP 403 (403 Forbidden - Insufficient permissions): the token's user lacks the role");
                });
        GitLabClient narrow = client(fake.addAccessToken("kiln-bot", "read_api"));
        assertThatThrownBy(() -> narrow.createProjectRunner(project, List.of("kiln"), "kiln-vm-4"))
                .hasMessageContaining("insufficient_scope: The request requires higher privileges than provided by the access token. (needs scope create_runner)");
        String revoked = fake.addAccessToken("kiln-bot", "api");
        fake.revokeAccessToken(revoked);
        assertThatThrownBy(() -> client(revoked).pendingJobs("acme/widgets"))
                .isInstanceOfSatisfying(GitLabApiException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED))
                .hasMessageContaining("401 Unauthorized").hasMessageNotContaining(revoked);
        assertThatThrownBy(() -> client.pendingJobs("acme/nothing"))
                .isInstanceOfSatisfying(GitLabApiException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.NOT_FOUND));
        assertThat(Map.copyOf(client.calls())).doesNotContainKey("POST /user/runners");
    }
}
