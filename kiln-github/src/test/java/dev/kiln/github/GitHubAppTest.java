package dev.kiln.github;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.FakeGitHub;
import dev.kiln.core.KilnException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client against the fake: the integration test of both (real HTTP, real keys, real signatures). */
@Timeout(120)
class GitHubAppTest {
    static final long APP_ID = 12345;
    final TestingClock clock = new TestingClock();
    final List<Duration> waits = new ArrayList<>();
    final FakeGitHub fake = FakeGitHub.start(APP_ID, TestKeys.APP.getPublic(), clock);
    final HttpClient http = HttpClient.newHttpClient();
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
    final GitHubApp github = client(Duration.ofMinutes(2));

    GitHubApp client(Duration maxWait) {
        GitHubConfig config = GitHubConfig.of(APP_ID, TestKeys.privateKey(), Secret.of("s3cret-webhook"), fake.url(), fake.url());
        return new GitHubApp(config, http, clock, d -> {
            waits.add(d);
            clock.advance(d);
        }, maxWait);
    }

    @AfterEach
    void close() {
        fake.close();
    }

    @Test
    void listsInstallationsAndTheirRepositories() {
        fake.addRepository("acme", "widgets");
        fake.addRepository("acme", "gadgets");
        fake.addRepository("other", "thing");
        long user = fake.installOnUser("dev1", Map.of("metadata", "read", "administration", "write"));

        assertThat(github.installations()).extracting(Installation::id, Installation::account, Installation::isOrganization)
                .containsExactly(org.assertj.core.groups.Tuple.tuple(acme, "acme", true), org.assertj.core.groups.Tuple.tuple(user, "dev1", false));
        assertThat(github.installation(acme).has("organization_self_hosted_runners", "write")).isTrue();
        assertThat(github.repositories(acme)).extracting(Repository::fullName).containsExactly("acme/widgets", "acme/gadgets");
        assertThat(github.app().id()).isEqualTo(APP_ID);
    }

    @Test
    void aJobOnTheHappyPathCostsAJitConfigCallAndTheTokenIsCachedUntilShortlyBeforeItExpires() {
        fake.addRepository("acme", "widgets");
        Installation installation = github.installation(acme);
        RunnerScope scope = github.scopeFor(installation, "acme", "widgets");
        assertThat(scope).isEqualTo(RunnerScope.org("acme"));
        long before = github.totalApiCalls();

        JitRunner first = github.generateJitConfig(acme, scope, GitHubApp.runnerName("vm-1"), List.of("kiln-4cpu-8gb"));
        long afterFirst = github.totalApiCalls();
        JitRunner second = github.generateJitConfig(acme, scope, GitHubApp.runnerName("vm-2"), List.of("kiln", "Self-Hosted"));

        assertThat(afterFirst - before).as("token mint + generate-jitconfig").isEqualTo(2);
        assertThat(github.totalApiCalls() - afterFirst).as("the cached token is reused").isEqualTo(1);
        assertThat(first.runner().name()).isEqualTo("kiln-vm-1");
        assertThat(first.runner().labels()).containsExactly("self-hosted", "kiln-4cpu-8gb");
        assertThat(second.runner().labels()).containsExactly("self-hosted", "kiln");
        assertThat(first.runner().ephemeral()).isTrue();
        assertThat(first.runner().runnerGroupId()).isEqualTo(1);
        assertThat(first.toString()).doesNotContain(first.encodedJitConfig());
        String decoded = new String(Base64.getDecoder().decode(first.encodedJitConfig()));
        assertThat(decoded).contains(".runner", ".credentials");

        clock.advance(Duration.ofMinutes(56));
        github.generateJitConfig(acme, scope, GitHubApp.runnerName("vm-3"), List.of("kiln"));
        assertThat(github.apiCalls()).containsEntry("POST /app/installations/{id}/access_tokens", 2L)
                .containsEntry("POST /orgs/{org}/actions/runners/generate-jitconfig", 3L);
    }

    @Test
    void aRunnerNameThatExistsIsAConflictAndAnUnknownOrHostedGroupIsRefused() {
        github.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-1", List.of("kiln"));
        assertThatThrownBy(() -> github.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-1", List.of("kiln")))
                .isInstanceOfSatisfying(GitHubApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(409);
                    assertThat(e.code()).isEqualTo(ErrorCode.CONFLICT);
                }).hasMessageContaining("already exists");

        GitHubApp wrongGroup = withGroup(99);
        assertThatThrownBy(() -> wrongGroup.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-2", List.of("kiln")))
                .isInstanceOfSatisfying(GitHubApiException.class, e -> assertThat(e.status()).isEqualTo(404));
        GitHubApp hostedGroup = withGroup(2);
        assertThatThrownBy(() -> hostedGroup.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-2", List.of("kiln")))
                .isInstanceOfSatisfying(GitHubApiException.class, e -> assertThat(e.status()).isEqualTo(403));
        long group = fake.addRunnerGroup("acme", "kiln");
        assertThat(withGroup(group).generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-2", List.of("kiln")).runner().runnerGroupId())
                .isEqualTo(group);
    }

    @Test
    void repositoryRunnersWhenTheInstallationMayNotManageOrganisationRunners() {
        long user = fake.installOnUser("dev1", Map.of("metadata", "read", "actions", "read", "administration", "write"));
        fake.addRepository("dev1", "site");
        Installation installation = github.installation(user);
        RunnerScope scope = github.scopeFor(installation, "dev1", "site");
        assertThat(scope).isEqualTo(RunnerScope.repo("dev1", "site"));
        JitRunner runner = github.generateJitConfig(user, scope, "kiln-vm-9", List.of("kiln"));
        assertThat(github.runners(user, scope, Optional.empty())).extracting(Runner::name).containsExactly("kiln-vm-9");
        assertThat(runner.scope()).isEqualTo(scope);

        long readOnly = fake.installOnOrganization("ro", Map.of("metadata", "read", "actions", "read"));
        assertThatThrownBy(() -> github.scopeFor(github.installation(readOnly), "ro", "x"))
                .hasMessageContaining("Self-hosted runners: write").hasMessageContaining("Administration: write");
        fake.addRepository("ro", "x");
        assertThatThrownBy(() -> github.generateJitConfig(readOnly, RunnerScope.org("ro"), "kiln-vm-1", List.of("kiln")))
                .isInstanceOfSatisfying(GitHubApiException.class, e -> {
                    assertThat(e.status()).isEqualTo(403);
                    assertThat(e.code()).isEqualTo(ErrorCode.PERMISSION_DENIED);
                }).hasMessageContaining("Resource not accessible by integration");
    }

    @Test
    void listsRunnersByNameAcrossPagesAndDeletesThemWithEachOutcome() throws Exception {
        for (int i = 0; i < 130; i++) {
            github.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-" + i, List.of("kiln"));
        }
        assertThat(github.runners(acme, RunnerScope.org("acme"), Optional.empty())).hasSize(130);
        assertThat(github.apiCalls()).containsEntry("GET /orgs/{org}/actions/runners", 2L);
        Runner seven = github.runners(acme, RunnerScope.org("acme"), Optional.of("kiln-vm-7")).getFirst();
        assertThat(seven.name()).isEqualTo("kiln-vm-7");

        assertThat(github.deleteRunner(acme, RunnerScope.org("acme"), seven.id())).isEqualTo(DeleteOutcome.DELETED);
        assertThat(github.deleteRunner(acme, RunnerScope.org("acme"), seven.id())).isEqualTo(DeleteOutcome.ALREADY_GONE);

        fake.addRepository("acme", "widgets");
        fake.queueJob("acme", "widgets", "build", List.of("kiln"), "true");
        JitRunner busy = github.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-busy", List.of("kiln"));
        RunnerSide.claim(http, busy.encodedJitConfig());
        assertThat(github.deleteRunner(acme, RunnerScope.org("acme"), busy.runner().id())).isEqualTo(DeleteOutcome.BUSY);
    }

    @Test
    void theKeysGitHubHoldsForAUserAcrossPagesAndNoneForAnUnknownUser() throws Exception {
        List<String> keys = new java.util.ArrayList<>();
        for (int i = 0; i < 105; i++) {
            String key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + String.format("%040d", i);
            fake.addUserKey("Alice", key);
            keys.add(key);
        }
        assertThat(github.userKeys(acme, "alice")).containsExactlyElementsOf(keys);
        assertThat(github.apiCalls()).containsEntry("GET /users/{username}/keys", 2L);
        assertThat(github.userKeys(acme, "nobody")).isEmpty();
        assertThatThrownBy(() -> github.userKeys(acme, "../orgs/acme")).isInstanceOf(KilnException.class);

        // The documented shape, also without authentication, as GitHub answers it.
        HttpResponse<String> plain = http.send(HttpRequest.newBuilder(fake.url().resolve("/users/alice/keys?per_page=1")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(plain.statusCode()).isEqualTo(200);
        assertThat(plain.body()).matches("\\[\\{\"id\":\\d+,\"key\":\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI0+\"}]");
        assertThat(plain.headers().firstValue("Link")).hasValueSatisfying(link -> assertThat(link).contains("rel=\"next\""));
    }

    @Test
    void queuedJobsForTheReconcilerIncludeQueuedJobsOfRunsInProgress() {
        fake.addRepository("acme", "widgets");
        long a = fake.queueJob("acme", "widgets", "a", List.of("kiln"), "true");
        long b = fake.queueJob("acme", "widgets", "b", List.of("ubuntu-latest"), "true");
        long c = fake.queueJob("acme", "widgets", "c", List.of("kiln-4cpu-8gb"), "true");
        fake.cancel(c);

        assertThat(github.queuedJobs(acme, "acme", "widgets")).extracting(WorkflowJob::id, WorkflowJob::labels)
                .containsExactlyInAnyOrder(org.assertj.core.groups.Tuple.tuple(a, List.of("kiln")),
                        org.assertj.core.groups.Tuple.tuple(b, List.of("ubuntu-latest")));
        assertThat(github.workflowRuns(acme, "acme", "widgets", "completed")).extracting(WorkflowRun::conclusion).containsExactly("cancelled");
    }

    @Test
    void waitsForThePrimaryRateLimitResetByMovingTheClock() {
        github.installations();
        fake.faults().exhaustPrimaryRateLimit(Duration.ofMinutes(1), 403);

        assertThat(github.installations()).hasSize(1);

        assertThat(waits).hasSize(1);
        assertThat(waits.getFirst()).isBetween(Duration.ofSeconds(59), Duration.ofSeconds(62));
        assertThat(github.rateLimit(Optional.empty()).orElseThrow().remaining()).isPositive();
    }

    @Test
    void aPrimaryLimitThatResetsLaterThanKilnMayWaitIsRateLimitedWithoutSleeping() {
        github.installations();
        fake.faults().exhaustPrimaryRateLimit(Duration.ofMinutes(30), 429);
        assertThatThrownBy(github::installations).isInstanceOfSatisfying(GitHubApiException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED)).hasMessageContaining("more than the 120 s Kiln may wait");
        assertThat(waits).isEmpty();
        assertThatThrownBy(github::installations).hasMessageContaining("was not sent");
        assertThat(fake.requests().get("GET /app/installations")).as("the second call was not sent").isEqualTo(2L);
    }

    @Test
    void secondaryRateLimitsHonourRetryAfterOrWaitAMinute() {
        fake.faults().secondaryRateLimitNext(1, 403, OptionalLong.of(17));
        github.installations();
        fake.faults().secondaryRateLimitNext(2, 429, OptionalLong.empty());
        github.installations();
        assertThat(waits).containsExactly(Duration.ofSeconds(17), Duration.ofSeconds(60), Duration.ofSeconds(120));
    }

    @Test
    void backsOffOn5xxAndGivesUpAfterFiveAttempts() {
        fake.faults().failNext(2, 502);
        assertThat(github.installations()).hasSize(1);
        assertThat(waits).containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2));

        waits.clear();
        fake.faults().failNext(5, 503);
        assertThatThrownBy(github::installations).isInstanceOfSatisfying(GitHubApiException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.UPSTREAM_FAILED)).hasMessageContaining("failed 5 times").hasMessageContaining("HTTP 503");
        assertThat(waits).containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(8));
    }

    @Test
    void afterACallGaveUpNothingIsSentUntilADelayThatDoublesUpToTenMinutesThenOneAnswerEndsIt() {
        fake.faults().failNext(1_000_000, 503);
        assertThatThrownBy(github::installations).hasMessageContaining("failed 5 times");
        assertThat(sent()).isEqualTo(5);

        List<Long> delays = new ArrayList<>();
        for (int round = 0; round < 7; round++) {
            GitHubApp.Unavailable down = github.unavailable().orElseThrow();
            long delay = Duration.between(clock.instant(), down.until()).toSeconds();
            delays.add(delay);
            clock.advance(Duration.ofSeconds(delay - 1));
            assertThatThrownBy(github::installations).isInstanceOfSatisfying(GitHubApiException.class, e -> {
                assertThat(e.notSent()).isTrue();
                assertThat(e.code()).isEqualTo(ErrorCode.UPSTREAM_FAILED);
            }).hasMessageContaining("was not sent").hasMessageContaining("HTTP 503").hasMessageContaining("in 1 s");
            assertThat(sent()).as("held back in round " + round).isEqualTo(5 + round);
            clock.advance(Duration.ofSeconds(1));
            assertThatThrownBy(github::installations).as("one probe, no retries").hasMessageContaining("failed 1 time");
            assertThat(sent()).isEqualTo(6 + round);
        }
        assertThat(delays).containsExactly(30L, 60L, 120L, 240L, 480L, 600L, 600L);
        assertThat(github.unavailable().orElseThrow().heldBack()).isEqualTo(7);

        fake.faults().failNext(0, 503);
        clock.advance(Backoff.MAX);
        assertThat(github.installations()).hasSize(1);
        assertThat(github.unavailable()).isEmpty();
        fake.faults().failNext(2, 502);
        assertThat(github.installations()).as("five attempts again once GitHub answered").hasSize(1);
    }

    @Test
    void aRetryAfterLongerThanKilnMayWaitHoldsEveryCallUntilItPasses() {
        fake.faults().secondaryRateLimitNext(1, 403, OptionalLong.of(900));
        assertThatThrownBy(github::installations).isInstanceOfSatisfying(GitHubApiException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.RATE_LIMITED)).hasMessageContaining("retry-after 900");
        assertThat(waits).isEmpty();

        clock.advance(Duration.ofSeconds(899));
        assertThatThrownBy(() -> github.repositories(acme)).hasMessageContaining("was not sent");
        assertThat(sent()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(1));
        assertThat(github.installations()).hasSize(1);
    }

    long sent() {
        return fake.requests().values().stream().mapToLong(Long::longValue).sum();
    }

    @Test
    void aWrongKeyOrAppIsRefusedWithAHintAndARevokedTokenIsReplaced() {
        GitHubConfig wrong = GitHubConfig.of(APP_ID, (java.security.interfaces.RSAPrivateKey) TestKeys.generate().getPrivate(),
                Secret.of("x"), fake.url(), fake.url());
        GitHubApp impostor = new GitHubApp(wrong, http, clock, d -> clock.advance(d));
        assertThatThrownBy(impostor::installations).isInstanceOfSatisfying(GitHubApiException.class, e -> {
            assertThat(e.status()).isEqualTo(401);
            assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED);
        }).hasMessageContaining("A JSON web token could not be decoded").hasMessageContaining("check the App id and its private key");

        GitHubApp otherApp = new GitHubApp(GitHubConfig.of(APP_ID + 1, TestKeys.privateKey(), Secret.of("x"), fake.url(), fake.url()),
                http, clock, d -> clock.advance(d));
        assertThatThrownBy(otherApp::installations).hasMessageContaining("Integration not found");

        fake.addRepository("acme", "widgets");
        github.repositories(acme);
        fake.revokeTokens(acme);
        assertThat(github.repositories(acme)).hasSize(1);
        assertThat(github.apiCalls()).containsEntry("POST /app/installations/{id}/access_tokens", 2L)
                .containsEntry("GET /installation/repositories", 3L);
    }

    @Test
    void correctsForAClockBehindGitHubsFromTheDateHeader() {
        // The JDK's HttpServer stamps Date with the system clock, so here the fake runs on the system clock
        // and Kiln's clock is 12 minutes behind: its first JWT has expired by GitHub's time.
        try (FakeGitHub onSystemTime = FakeGitHub.start(APP_ID, TestKeys.APP.getPublic(), java.time.Clock.systemUTC())) {
            onSystemTime.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
            TestingClock behind = new TestingClock(java.time.Instant.now().minus(Duration.ofMinutes(12)));
            GitHubApp client = new GitHubApp(GitHubConfig.of(APP_ID, TestKeys.privateKey(), Secret.of("x"), onSystemTime.url(),
                    onSystemTime.url()), http, behind, d -> behind.advance(d));
            assertThat(client.installations()).hasSize(1);
            assertThat(client.apiCalls()).containsEntry("GET /app/installations", 2L);
            assertThat(client.installations()).hasSize(1);
            assertThat(client.apiCalls()).as("later tokens are minted on GitHub's time").containsEntry("GET /app/installations", 3L);
        }
    }

    private GitHubApp withGroup(long group) {
        GitHubConfig config = new GitHubConfig(APP_ID, java.nio.file.Path.of("(test)"), TestKeys.privateKey(), Secret.of("x"), fake.url(),
                fake.url(), group, List.of(), List.of(), Map.of());
        return new GitHubApp(config, http, clock, d -> clock.advance(d));
    }

}
