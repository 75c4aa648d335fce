package dev.kiln.github;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.http.HttpClient;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class GitHubCheckTest {
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(GitHubAppTest.APP_ID, TestKeys.APP.getPublic(), clock);
    final HttpClient http = HttpClient.newHttpClient();

    @AfterEach
    void close() {
        fake.close();
    }

    GitHubApp client(java.security.interfaces.RSAPrivateKey key) {
        return new GitHubApp(GitHubConfig.of(GitHubAppTest.APP_ID, key, Secret.of("x"), fake.url(), fake.url()), http, clock, d -> clock.advance(d));
    }

    @Test
    void reportsEachInstallationAndWhatItLacks() {
        long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
        fake.addRepository("acme", "widgets");
        long thin = fake.installOnOrganization("thin", Map.of("metadata", "read"));
        long user = fake.install("dev1", "User", Map.of("metadata", "read", "actions", "read", "administration", "write"), List.of());
        long suspended = fake.installOnOrganization("gone", FakeGitHub.KILN_PERMISSIONS);
        fake.suspend(suspended);

        GitHubCheck.Report report = new GitHubCheck(client(TestKeys.privateKey())).run();

        assertThat(report.ok()).isFalse();
        assertThat(report.problems()).isEmpty();
        Map<Long, GitHubCheck.InstallationReport> byId = new java.util.HashMap<>();
        report.installations().forEach(i -> byId.put(i.installation().id(), i));
        assertThat(byId.get(acme).problems()).isEmpty();
        assertThat(byId.get(acme).runnerScope()).isEqualTo("organization");
        assertThat(byId.get(acme).repositories()).isEqualTo(1);
        assertThat(byId.get(thin).problems()).anyMatch(p -> p.contains("Actions: read")).anyMatch(p -> p.contains("Self-hosted runners: write"));
        assertThat(byId.get(thin).runnerScope()).isEqualTo("none");
        assertThat(byId.get(user).runnerScope()).isEqualTo("repository");
        assertThat(byId.get(user).problems()).containsExactly("the Workflow job event (accept the App's new permissions in dev1's settings)");
        assertThat(byId.get(suspended).problems()).anyMatch(p -> p.contains("suspended"));
        assertThat(report.render()).contains("installation " + acme + " on acme (Organization, all repositories): runners at organization level, 1 repositories visible, ready")
                .contains("not ready");
    }

    @Test
    void anAppWithoutTheWorkflowJobEventOrInstallationsIsNotReady() {
        fake.setAppEvents(List.of("push"));
        GitHubCheck.Report report = new GitHubCheck(client(TestKeys.privateKey())).run();
        assertThat(report.ok()).isFalse();
        assertThat(report.problems()).anyMatch(p -> p.contains("Workflow job event")).anyMatch(p -> p.contains("installed nowhere"));
    }

    @Test
    void wrongCredentialsFailWithTheCode() {
        assertThatThrownBy(() -> new GitHubCheck(client((java.security.interfaces.RSAPrivateKey) TestKeys.generate().getPrivate())).run())
                .isInstanceOfSatisfying(GitHubApiException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED))
                .hasMessageContaining("check the App id and its private key");
    }
}
