package dev.kiln.github;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.github.WorkflowJobEvent.Action;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.github.FakeGitHub;
import dev.kiln.testkit.github.FakeWebhooks;
import java.io.IOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole GitHub path without a VM: a queued job's webhook, a JIT config from the client, the stand-in
 * runner (python3, as the test image carries it) claiming and running the job against the fake, and the
 * in_progress and completed webhooks that name its runner.
 */
@Timeout(180)
class StandInRunnerTest {
    static final Path LISTENER = locate("images/runner/stand-in/bin/Runner.Listener");
    static final String SECRET = "webhook-secret-for-tests";
    final TestingClock clock = new TestingClock();
    final FakeGitHub fake = FakeGitHub.start(GitHubAppTest.APP_ID, TestKeys.APP.getPublic(), clock);
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
    final GitHubApp github = new GitHubApp(GitHubConfig.of(GitHubAppTest.APP_ID, TestKeys.privateKey(), Secret.of(SECRET),
            fake.url(), fake.url()), HttpClient.newHttpClient(), clock, d -> clock.advance(d));
    final WebhookSink sink;

    @TempDir
    Path work;

    StandInRunnerTest() throws IOException {
        sink = new WebhookSink(new WebhookVerifier(Secret.of(SECRET)));
        fake.webhooks().sendTo(sink.url(), SECRET);
        fake.addRepository("acme", "widgets");
    }

    @AfterEach
    void close() {
        fake.close();
        sink.close();
    }

    @Test
    void theStandInClaimsTheQueuedJobRunsItsScriptAndReportsAsTheRealRunnerWould() throws Exception {
        long jobId = fake.queueJob("acme", "widgets", "build", List.of("kiln-2cpu-4gb"), """
                echo "hello from $GITHUB_JOB"
                echo "bash $BASH_VERSION" | cut -c1-6
                exit 0
                """);
        WorkflowJobEvent queued = sink.nextJob("queued");
        assertThat(queued.action()).isEqualTo(Action.QUEUED);
        assertThat(queued.jobId()).isEqualTo(jobId);
        assertThat(queued.installationId()).isEqualTo(acme);

        JitRunner runner = github.generateJitConfig(queued.installationId(), github.scopeFor(github.installation(acme), "acme", "widgets"),
                GitHubApp.runnerName("vm-42"), queued.labels());
        Result result = runStandIn(runner.encodedJitConfig());

        assertThat(result.exit()).as(result.output()).isZero();
        assertThat(result.output().lines().findFirst()).hasValue("stand-in runner 2.999.0-standin: agent kiln-vm-42 as "
                + System.getProperty("user.name") + " for " + fake.url() + "/acme");
        assertThat(result.output()).contains("hello from " + jobId).contains("job " + jobId + " completed with exit code 0")
                .doesNotContain(runner.encodedJitConfig());
        WorkflowJobEvent started = sink.nextJob("in_progress");
        assertThat(started.action()).isEqualTo(Action.IN_PROGRESS);
        assertThat(started.runnerName()).isEqualTo("kiln-vm-42");
        WorkflowJobEvent completed = sink.nextJob("completed");
        assertThat(completed.action()).isEqualTo(Action.COMPLETED);
        assertThat(completed.conclusion()).isEqualTo("success");
        assertThat(fake.job(jobId).exitCode()).isZero();
        assertThat(fake.job(jobId).output()).contains("hello from " + jobId).contains("bash 5");
        assertThat(fake.runners()).as("a JIT runner is gone after its job").isEmpty();
    }

    @Test
    void aFailingScriptIsAFailedJobButTheRunnerStillExitsZero() throws Exception {
        long jobId = fake.queueJob("acme", "widgets", "test", List.of("kiln"), "echo before\nfalse\necho never\n");
        JitRunner runner = github.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-7", List.of("kiln"));
        Result result = runStandIn(runner.encodedJitConfig());

        assertThat(result.exit()).as(result.output()).isZero();
        assertThat(fake.job(jobId).conclusion()).isEqualTo("failure");
        assertThat(fake.job(jobId).exitCode()).isEqualTo(1);
        assertThat(fake.job(jobId).output()).contains("before").doesNotContain("never");
    }

    @Test
    void theRunnerTakesOnlyAJobWhoseLabelsItCarriesAndExitsWhenItIsDeleted() throws Exception {
        long other = fake.queueJob("acme", "widgets", "arm", List.of("kiln-arm64-2cpu-4gb"), "true");
        JitRunner runner = github.generateJitConfig(acme, RunnerScope.org("acme"), "kiln-vm-8", List.of("kiln"));
        Process process = start(runner.encodedJitConfig(), "0.2");
        // The runner polls without a matching job; deleting it (the reaper's move) makes it exit 0.
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(60))
                .until(() -> fake.runners().stream().anyMatch(r -> r.name().equals("kiln-vm-8") && r.online()));
        assertThat(github.deleteRunner(acme, RunnerScope.org("acme"), runner.runner().id())).isEqualTo(DeleteOutcome.DELETED);
        Result result = finish(process);
        assertThat(result.exit()).as(result.output()).isZero();
        assertThat(result.output()).contains("The runner no longer exists on the server");
        assertThat(fake.job(other).status()).isEqualTo("queued");
    }

    @Test
    void aBadJitConfigExits3WithoutEchoingIt() throws Exception {
        Result result = runStandIn("bm90IGEgY29uZmln");
        assertThat(result.exit()).isEqualTo(3);
        assertThat(result.output()).contains("invalid JIT config").doesNotContain("bm90IGEgY29uZmln");
    }

    @Test
    void webhookFaultsDropDuplicateAndReorderDeliveries() throws Exception {
        FakeWebhooks hooks = fake.webhooks();
        hooks.dropNext(1);
        long dropped = fake.queueJob("acme", "widgets", "a", List.of("kiln"), "true");
        hooks.duplicateNext(1);
        long duplicated = fake.queueJob("acme", "widgets", "b", List.of("kiln"), "true");
        WorkflowJobEvent first = sink.nextJob("duplicate 1");
        WorkflowJobEvent second = sink.nextJob("duplicate 2");
        assertThat(List.of(first.jobId(), second.jobId())).containsOnly(duplicated);
        assertThat(first.deliveryId()).isNotEqualTo(second.deliveryId());

        hooks.holdNext(2);
        long held = fake.queueJob("acme", "widgets", "c", List.of("kiln"), "true");
        fake.cancel(held);
        hooks.releaseHeld(true);
        assertThat(sink.nextJob("reordered completed").action()).isEqualTo(Action.COMPLETED);
        assertThat(sink.nextJob("reordered queued").action()).isEqualTo(Action.QUEUED);

        String guid = hooks.deliveries().stream().filter(d -> d.status() == 202).findFirst().orElseThrow().guid();
        hooks.redeliver(guid);
        assertThat(sink.next("redelivery").deliveryId()).isEqualTo(guid);
        assertThat(hooks.deliveries()).anyMatch(d -> d.status() == -1 && d.bodyText().contains("\"id\":" + dropped));
        assertThat(github.queuedJobs(acme, "acme", "widgets")).extracting(WorkflowJob::id).as("the reconciler finds the dropped job")
                .contains(dropped);

        fake.webhooks().sendTo(sink.url(), "a different secret");
        fake.queueJob("acme", "widgets", "d", List.of("kiln"), "true");
        assertThat(sink.nextRefusal()).isEqualTo(401);
        fake.ping();
        assertThat(sink.nextRefusal()).isEqualTo(401);
        fake.webhooks().sendTo(sink.url(), SECRET);
        fake.ping();
        assertThat(sink.next("ping")).isInstanceOf(PingEvent.class);
    }

    record Result(int exit, String output) {}

    private Result runStandIn(String jitConfig) throws Exception {
        return finish(start(jitConfig, "0.2"));
    }

    private Process start(String jitConfig, String pollSeconds) throws IOException {
        // A copy in the test's own directory: the runner keeps its jobs' work beside its bin/, and a
        // run from the source tree would leave them in images/runner/stand-in, whose bytes the runner
        // image's recipe digest covers (every `bin/test` then rebuilt the image).
        Path listener = work.resolve("runner/bin/Runner.Listener");
        if (!Files.exists(listener)) {
            Files.createDirectories(listener.getParent());
            Files.copy(LISTENER, listener, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
        }
        ProcessBuilder builder = new ProcessBuilder("python3", listener.toString(), "--jitconfig", jitConfig)
                .redirectErrorStream(true).directory(work.toFile());
        builder.environment().put("KILN_STANDIN_POLL_SECONDS", pollSeconds);
        try {
            return builder.start();
        } catch (IOException e) {
            throw new IOException("cannot start python3 (the stand-in runner needs it on the PATH): " + e.getMessage(), e);
        }
    }

    private static Result finish(Process process) throws Exception {
        try {
            byte[] output = process.getInputStream().readAllBytes();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("the stand-in runner did not exit within 60 s");
            }
            return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
        } finally {
            process.destroyForcibly();
        }
    }

    /** A file of the source tree, by its path from the top, looked for above the working directory. */
    static Path locate(String relative) {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path file = dir.resolve(relative);
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        throw new IllegalStateException(relative + " not found above " + Path.of("").toAbsolutePath());
    }
}
