package dev.kiln.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image's gitlab-runner stand-in ({@code images/runner/gitlab-stand-in/gitlab-runner}) against FakeGitLab,
 * without a VM: the runner Kiln creates for a job takes that job, runs its script with bash, streams the trace
 * and reports GitLab's status with the exit code, then exits; the token reaches it only in its environment.
 */
@Timeout(120)
class GitLabStandInTest {
    record Run(int exitCode, String output) {}

    @TempDir
    Path builds;
    final FakeGitLab fake = FakeGitLab.start(new TestingClock());
    final long project;
    final GitLabClient client;

    GitLabStandInTest() {
        fake.addGroup("acme");
        project = fake.addProject("acme/widgets");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        GitLabConfig config = new GitLabConfig(fake.url(), fake.url(), fake.addAccessToken("kiln-bot", "api"), "s", List.of("acme/widgets"), List.of());
        client = new GitLabClient(config, HttpClient.newHttpClient(), d -> {});
    }

    @AfterEach
    void close() {
        fake.close();
    }

    @Test
    void theRunnerTakesItsOneJobRunsItStreamsTheTraceAndReportsSuccess() throws Exception {
        long job = fake.queueJob("acme/widgets", "test", List.of("kiln"), "echo hello from $CI_JOB_NAME\nuname -s");
        long next = fake.queueJob("acme/widgets", "test", List.of("kiln"), "echo second");
        CreatedRunner runner = client.createProjectRunner(project, List.of("kiln"), "kiln-vm-1");

        Run run = standIn(runner.token(), "--max-builds", "1", "--wait-timeout", "30", "--description", "kiln-vm-1");

        assertThat(run.exitCode()).as(run.output()).isZero();
        FakeGitLab.JobView view = fake.job(job);
        assertThat(view.status()).isEqualTo("success");
        assertThat(view.exitCode()).isZero();
        assertThat(view.trace()).contains("Running with gitlab-runner 17.6.0-standin", "  on kiln-vm-1",
                "$ echo hello from $CI_JOB_NAME\nhello from test\n$ uname -s\nLinux\n", "Job succeeded\n");
        assertThat(fake.job(next).status()).as("a runner with --max-builds 1 takes one job").isEqualTo("pending");
        assertThat(fake.runners()).singleElement().satisfies(r -> assertThat(r.jobs()).containsExactly(job));
        assertThat(client.job(project, job).runnerId()).as("the Jobs API names the runner").isEqualTo(runner.id());
        assertThat(run.output()).doesNotContain(runner.token());
    }

    @Test
    void aFailingScriptIsReportedFailedWithItsExitCodeAndTheJobDoesNotSeeTheRunnerToken() throws Exception {
        long job = fake.queueJob("acme/widgets", "test", List.of("kiln-4cpu-8gb"),
                "echo \"token: ${CI_SERVER_TOKEN:-none}\"\nfalse\necho never");
        CreatedRunner runner = client.createProjectRunner(project, List.of("kiln-4cpu-8gb"), "kiln-vm-2");

        Run run = standIn(runner.token(), "--max-builds", "1", "--wait-timeout", "30");

        assertThat(run.exitCode()).as(run.output()).isZero();
        FakeGitLab.JobView view = fake.job(job);
        assertThat(view.status()).isEqualTo("failed");
        assertThat(view.failureReason()).isEqualTo("script_failure");
        assertThat(view.exitCode()).isEqualTo(1);
        assertThat(view.trace()).contains("token: none\n$ false\nERROR: Job failed: exit status 1\n").doesNotContain("never\n");
    }

    @Test
    void aRunnerWhoseTagsDoNotCoverTheJobTakesNothingAndLeavesAfterItsWaitTimeout() throws Exception {
        long job = fake.queueJob("acme/widgets", "test", List.of("kiln", "docker"), "true");
        CreatedRunner runner = client.createProjectRunner(project, List.of("kiln"), "kiln-vm-3");

        Run run = standIn(runner.token(), "--max-builds", "1", "--wait-timeout", "1");

        assertThat(run.exitCode()).isZero();
        assertThat(run.output()).contains("no job within 1 s; exiting");
        assertThat(fake.job(job).status()).isEqualTo("pending");
    }

    @Test
    void withoutAUrlTokenOrTheShellExecutorItRefusesToStart() throws Exception {
        assertThat(standIn(null, "--max-builds", "1").exitCode()).isEqualTo(2);
        assertThat(standIn("glrt-x", "--executor", "docker").exitCode()).isEqualTo(2);
    }

    private Run standIn(String token, String... args) throws IOException, InterruptedException {
        List<String> command = new java.util.ArrayList<>(List.of("python3", script().toString(), "run-single"));
        if (!List.of(args).contains("--executor")) {
            command.addAll(List.of("--executor", "shell"));
        }
        command.addAll(List.of("--builds-dir", builds.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = builder.environment();
        env.put("CI_SERVER_URL", fake.url().toString());
        if (token != null) {
            env.put("CI_SERVER_TOKEN", token); // never on the command line
        }
        env.put("KILN_STANDIN_POLL_SECONDS", "0.2");
        Process process = builder.start();
        byte[] output;
        try (var in = process.getInputStream()) {
            output = in.readAllBytes();
        }
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the stand-in did not exit within 60 s");
        }
        assertThat(command).noneMatch(word -> token != null && word.contains(token));
        return new Run(process.exitValue(), new String(output, UTF_8));
    }

    static Path script() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path script = dir.resolve("images/runner/gitlab-stand-in/gitlab-runner");
            if (Files.isRegularFile(script)) {
                return script;
            }
        }
        throw new IllegalStateException("images/runner/gitlab-stand-in/gitlab-runner not found above " + Path.of("").toAbsolutePath());
    }

}
