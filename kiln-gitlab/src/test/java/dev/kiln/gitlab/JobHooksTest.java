package dev.kiln.gitlab;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.FakeGitLabHooks;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Hook checks and Job Hook reading: every documented shape taken, the truly invalid refused. */
@Timeout(60)
class JobHooksTest {
    /** The documented example (ci-protocols.md §6.4). */
    static final String DOCUMENTED = """
            {"object_kind": "build", "build_id": 880011, "build_name": "test", "build_stage": "test", "build_status": "pending",
             "build_created_at": "2026-09-01T10:00:00.000Z", "build_started_at": null, "build_finished_at": null, "build_duration": null,
             "build_queued_duration": 1.2, "build_allow_failure": false, "build_failure_reason": "unknown_failure", "retries_count": 0,
             "pipeline_id": 4410, "project_id": 380, "project_name": "acme / widgets", "ref": "main", "tag": false,
             "sha": "9f2c3a71d0b4c2e8a1f6b3d5c7e9a0b1c2d3e4f5", "runner": null, "environment": null}""";

    @Test
    void theTokenIsComparedWhole() {
        HookVerifier verifier = new HookVerifier("s3cret-token");
        verifier.check("s3cret-token");
        for (String wrong : new String[] {"s3cret-toke", "s3cret-token ", "S3CRET-TOKEN", "x"}) {
            assertThatThrownBy(() -> verifier.check(wrong)).isInstanceOfSatisfying(KilnException.class,
                    e -> assertThat(e.code()).isEqualTo(ErrorCode.UNAUTHENTICATED)).hasMessageNotContaining("s3cret");
        }
        assertThatThrownBy(() -> verifier.check(null)).hasMessageContaining("no X-Gitlab-Token");
        assertThatThrownBy(() -> new HookVerifier("")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aBodyPastTheBoundIsRefusedAsItArrivesOrByItsDeclaredLength() throws Exception {
        HookVerifier verifier = new HookVerifier("s");
        byte[] big = new byte[HookVerifier.MAX_BODY_BYTES + 1];
        assertThatThrownBy(() -> verifier.readBody(new ByteArrayInputStream(big), -1))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.PAYLOAD_TOO_LARGE));
        InputStream never = new InputStream() {
            @Override
            public int read() {
                throw new AssertionError("a body declared too large must not be read");
            }
        };
        assertThatThrownBy(() -> verifier.readBody(never, 50_000_000L)).hasMessageContaining("more than 1048576 bytes");
        assertThat(verifier.readBody(new ByteArrayInputStream(DOCUMENTED.getBytes(UTF_8)), -1)).hasSize(DOCUMENTED.getBytes(UTF_8).length);
    }

    @Test
    void theDocumentedJobHookIsRead() {
        assertThat(JobHooks.read("Job Hook", DOCUMENTED.getBytes(UTF_8)))
                .isEqualTo(new JobHooks.Job(new JobHook(880011, 380, null, "pending", "test", null)));
    }

    @Test
    void idsAsStringsARunnerObjectAProjectObjectAndExtraFieldsAreTaken() {
        String hook = """
                {"object_kind": "build", "build_id": "77", "build_status": "RUNNING", "project": {"id": 5, "path_with_namespace": "acme/widgets"},
                 "runner": {"id": 9171, "description": "kiln-vm-1", "tags": ["kiln"]}, "something_new": {"x": [1, 2]}}""";
        JobHooks.Reading reading = JobHooks.read("Job Hook", hook.getBytes(UTF_8));
        assertThat(reading).isEqualTo(new JobHooks.Job(new JobHook(77, 5, "acme/widgets", "running", "", 9171L)));
    }

    @Test
    void otherEventsAndJobHooksLackingWhatKilnNeedsAreIgnoredWithTheReason() {
        assertThat(JobHooks.read("Pipeline Hook", "{\"object_kind\": \"pipeline\"}".getBytes(UTF_8)))
                .isEqualTo(new JobHooks.Ignored("event 'Pipeline Hook' is not a Job Hook"));
        assertThat(JobHooks.read("Job Hook", "{\"object_kind\": \"build\", \"project_id\": 5, \"build_status\": \"pending\"}".getBytes(UTF_8)))
                .isEqualTo(new JobHooks.Ignored("the Job Hook lacks a build_id Kiln can read"));
        assertThat(JobHooks.read("Job Hook", "{\"object_kind\": \"build\", \"build_id\": -3, \"project_id\": 5, \"build_status\": \"pending\"}".getBytes(UTF_8)))
                .isInstanceOf(JobHooks.Ignored.class);
        assertThat(JobHooks.read("Job Hook", "{\"object_kind\": \"build\", \"build_id\": 3, \"project_id\": 5, \"build_status\": 7}".getBytes(UTF_8)))
                .isEqualTo(new JobHooks.Ignored("the Job Hook lacks a build_status Kiln can read"));
        assertThat(JobHooks.read("Job Hook", "{\"object_kind\": \"pipeline\"}".getBytes(UTF_8)))
                .isEqualTo(new JobHooks.Ignored("a Job Hook's object_kind is 'build', this one's is 'pipeline'"));
    }

    @Test
    void aBodyThatIsNotAJsonObjectIsRefused() {
        for (String body : new String[] {"", "[1]", "\"build\"", "{\"object_kind\": ", "payload=%7B%7D"}) {
            assertThatThrownBy(() -> JobHooks.read("Job Hook", body.getBytes(UTF_8))).as(body)
                    .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
        }
    }

    @Test
    void everyHookTheFakeSendsForAJobsLifeIsRead() throws Exception {
        try (FakeGitLab fake = FakeGitLab.start(new TestingClock())) {
            fake.addGroup("acme");
            long project = fake.addProject("acme/widgets");
            long job = fake.queueJob("acme/widgets", "build", List.of("kiln"), "true");
            fake.cancel(job);
            await().atMost(Duration.ofSeconds(20)).until(() -> fake.hooks().idle() && fake.hooks().deliveries().size() == 3);
            assertThat(fake.hooks().deliveries()).extracting(d -> ((JobHooks.Job) JobHooks.read(d.event(), d.body())).hook())
                    .extracting(JobHook::buildId, JobHook::projectId, JobHook::projectPath, JobHook::status)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(job, project, "acme/widgets", "created"),
                            org.assertj.core.groups.Tuple.tuple(job, project, "acme/widgets", "pending"),
                            org.assertj.core.groups.Tuple.tuple(job, project, "acme/widgets", "canceled"));
            assertThat(fake.hooks().deliveries()).extracting(FakeGitLabHooks.Delivery::status).containsOnly(0);
        }
    }
}
