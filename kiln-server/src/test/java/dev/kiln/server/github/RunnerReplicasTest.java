package dev.kiln.server.github;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.api.SyncAnswer;
import dev.kiln.api.VmLaunch;
import dev.kiln.core.SizeLabels;
import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.github.Secret;
import dev.kiln.github.WorkflowJob;
import dev.kiln.github.WorkflowJobEvent;
import dev.kiln.server.DeliveryMemory;
import dev.kiln.server.ProviderContext;
import dev.kiln.server.StoreFixture;
import dev.kiln.testkit.TestingPostgres;
import dev.kiln.testkit.github.AppKeys;
import dev.kiln.testkit.github.FakeGitHub;
import java.net.http.HttpClient;
import java.security.KeyPair;
import java.security.interfaces.RSAPrivateKey;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two server replicas on one real PostgreSQL, each with its own App client (as two processes have), race
 * to build the launches of the same runner VMs: each VM gets one runner on GitHub, and both replicas hand
 * out its one config.
 */
@Timeout(120)
class RunnerReplicasTest {
    static final long APP_ID = 5150;
    // Three 32 GiB runner disks fill the fixture's host (100 GiB).
    static final int VMS = 3;
    static final int CALLERS_PER_REPLICA = 3;

    final KeyPair keys = AppKeys.generate();
    final TestingPostgres postgres = TestingPostgres.start();
    final StoreFixture one = new StoreFixture(postgres.newDatabase());
    final StoreFixture two = new StoreFixture(one.db.url());
    final FakeGitHub fake = FakeGitHub.start(APP_ID, keys.getPublic(), one.clock);
    final long acme = fake.installOnOrganization("acme", FakeGitHub.KILN_PERMISSIONS);
    final GitHubConfig config = GitHubConfig.of(APP_ID, (RSAPrivateKey) keys.getPrivate(), Secret.of("replica-secret"),
            fake.url(), fake.url());

    @AfterEach
    void close() {
        two.close();
        one.close();
        fake.close();
        postgres.close();
    }

    /** A replica's GitHub provider on the fixture's store; the fixture's syncs serve its launches. */
    GitHubProvider replica(StoreFixture fixture) {
        GitHubProvider provider = new GitHubProvider(GitHubSettings.defaults(new GitHubApp(config, HttpClient.newHttpClient(),
                one.clock, one.clock::advance)), new ProviderContext(fixture.db, one.clock, SizeLabels.defaults(), name -> name,
                Duration.ofHours(1), new DeliveryMemory(DeliveryMemory.DEFAULT_BYTES, DeliveryMemory.DEFAULT_WAIT)));
        fixture.serve(provider);
        return provider;
    }

    @Test
    void racingReplicasRegisterOneRunnerPerVmAndHandOutItsOneConfig() throws Exception {
        fake.addRepository("acme", "widgets");
        one.host("h1", 64, 256);
        GitHubStore store = new GitHubStore(one.db, one.clock, SizeLabels.defaults(), config, () -> "runner", Duration.ofHours(1));
        for (int i = 0; i < VMS; i++) {
            long id = fake.queueJob("acme", "widgets", "build-" + i, List.of("kiln-2cpu-4gb"), "true");
            FakeGitHub.JobView job = fake.job(id);
            assertThat(store.apply(new WorkflowJob(id, job.runId(), "acme", "widgets", "build-" + i, "queued", null,
                    job.labels(), null, null, one.clock.instant()).asEvent("test", WorkflowJobEvent.Action.QUEUED, 1, "acme", acme)))
                    .contains("queued: demand");
        }
        assertThat(one.place()).isEqualTo(VMS);
        List<String> vms = one.db.tx(tx -> tx.query("SELECT id FROM vms ORDER BY id", row -> row.getString(1)));
        List<GitHubProvider> replicas = List.of(replica(one), replica(two));

        int callers = replicas.size() * CALLERS_PER_REPLICA;
        try (ExecutorService pool = Executors.newFixedThreadPool(callers)) {
            for (String vm : vms) {
                CyclicBarrier start = new CyclicBarrier(callers);
                List<Future<Boolean>> results = new ArrayList<>();
                for (GitHubProvider replica : replicas) {
                    for (int c = 0; c < CALLERS_PER_REPLICA; c++) {
                        results.add(pool.submit(() -> {
                            start.await();
                            return replica.issueCredentials(List.of(vm)).contains(vm);
                        }));
                    }
                }
                int minted = 0;
                for (Future<Boolean> result : results) {
                    minted += result.get() ? 1 : 0;
                }
                assertThat(minted).as("VM " + vm + ": at least the claim's holder has its runner").isPositive();
            }
        }

        assertThat(fake.requests()).containsEntry("POST /orgs/{org}/actions/runners/generate-jitconfig", (long) VMS);
        assertThat(fake.requests().keySet()).as("no SSH gateway: nobody's keys are asked for")
                .noneMatch(route -> route.startsWith("GET /users/"));
        assertThat(fake.runners()).extracting(FakeGitHub.RunnerView::name)
                .containsExactlyInAnyOrderElementsOf(vms.stream().map(GitHubApp::runnerName).toList());
        long claimsLeft = one.db.tx(tx -> tx.queryLong("SELECT COUNT(*) FROM launch_claims"));
        assertThat(claimsLeft).isZero();
        SyncAnswer first = one.desired("h1");
        SyncAnswer second = two.desired("h1");
        assertThat(first.vms()).hasSize(VMS);
        assertThat(first.vms()).extracting(VmLaunch::runnerJitConfig)
                .containsExactlyElementsOf(second.vms().stream().map(VmLaunch::runnerJitConfig).toList());
        for (VmLaunch launch : first.vms()) {
            long runnerId = registeredRunner(launch);
            assertThat(fake.runners()).filteredOn(r -> r.id() == runnerId).extracting(FakeGitHub.RunnerView::name)
                    .as("the config handed out is the runner GitHub has").containsExactly(GitHubApp.runnerName(launch.id()));
        }
    }

    /** The runner id inside a JIT config (its {@code .runner} file's agentId). */
    static long registeredRunner(VmLaunch launch) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Base64.Decoder b64 = Base64.getDecoder();
        JsonNode files = json.readTree(b64.decode(launch.runnerJitConfig()));
        return json.readTree(b64.decode(files.get(".runner").asText())).get("agentId").asLong();
    }

}
