package dev.kiln.server.gitlab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.kiln.api.JobView;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.server.KilnServer;
import dev.kiln.server.PostgresServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.SimulatedHost;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import dev.kiln.testkit.gitlab.SimulatedGitLabRunner;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two server replicas side by side on one real PostgreSQL, each with its own GitLab client, on FakeGitLab: every Job
 * Hook reaches both at once (as a balancer that copies, or GitLab retrying on the other, makes it), both reconcile
 * at the same moments (some hooks are dropped), both clean up, and each replica serves the syncs of its own host.
 * Each GitLab job gets one demand and runs once; each VM gets one runner, deleted once when the VM ends.
 */
@Timeout(180)
class GitLabReplicasTest {
    static final String ADMIN = "gitlab-replicas-admin-token-0123456789";
    static final String SECRET = "gitlab-replicas-hook-secret";
    static final int JOBS = 12;

    @RegisterExtension
    static final PostgresServer POSTGRES = new PostgresServer();

    final TestingClock clock = new TestingClock();
    final FakeGitLab fake = FakeGitLab.start(clock);
    final HttpClient http = HttpClient.newHttpClient();
    final List<KilnServer> replicas = new ArrayList<>();
    final List<SimulatedHost> hosts = new ArrayList<>();
    HttpServer copier;

    @AfterEach
    void close() {
        hosts.forEach(SimulatedHost::close);
        replicas.forEach(KilnServer::close);
        if (copier != null) {
            copier.stop(0);
        }
        fake.close();
    }

    /** A replica on the shared database with a GitLab client of its own (two processes have two). */
    KilnServer replica(String database, GitLabConfig config) {
        GitLabSettings settings = GitLabSettings.defaults(config, new GitLabClient(config, http, clock::advance))
                .withTick(Duration.ofMillis(50));
        // Hosts are never silent here: the test moves the clock by minutes, which no host's sync keeps up with.
        KilnServer server = KilnServer.start(ServerConfig.defaults(database, ADMIN).withListen("127.0.0.1", 0)
                .withLiveness(Duration.ofDays(1), Duration.ofSeconds(1)), clock, null, List.of(GitLabProvider.factory(settings)));
        replicas.add(server);
        return server;
    }

    /** A loopback hook receiver that hands every request to both replicas at once and answers with the first's status. */
    URI copyingTo(KilnServer one, KilnServer two) throws Exception {
        copier = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        copier.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        copier.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            List<CompletableFuture<HttpResponse<Void>>> sent = new ArrayList<>();
            for (KilnServer replica : List.of(one, two)) {
                HttpRequest.Builder request = HttpRequest.newBuilder(replica.uri().resolve(GitLabHooks.PATH))
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body));
                for (String header : List.of("X-Gitlab-Token", "X-Gitlab-Event", "Idempotency-Key", "X-Gitlab-Event-UUID")) {
                    exchange.getRequestHeaders().getOrDefault(header, List.of()).forEach(v -> request.header(header, v));
                }
                sent.add(http.sendAsync(request.build(), HttpResponse.BodyHandlers.discarding()));
            }
            int status = sent.getFirst().join().statusCode();
            sent.getLast().join();
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        copier.start();
        return URI.create("http://127.0.0.1:" + copier.getAddress().getPort() + GitLabHooks.PATH);
    }

    @Test
    void twoReplicasServeEachJobOnceMakeOneRunnerPerVmAndDeleteItOnce() throws Exception {
        fake.addGroup("acme");
        fake.addProject("acme/widgets");
        fake.addUser("kiln-bot", false);
        fake.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
        GitLabConfig config = new GitLabConfig(fake.url(), fake.url(), fake.addAccessToken("kiln-bot", "create_runner",
                "manage_runner", "read_api"), SECRET, List.of("acme/widgets"), List.of());
        String database = POSTGRES.newDatabase();
        KilnServer one = replica(database, config);
        KilnServer two = replica(database, config);
        KilnClient client = new KilnClient(one.uri(), ADMIN);
        fake.hooks().sendTo(copyingTo(one, two), SECRET);
        // Each replica answers one host's syncs, so both hand out launches (and make runners) at once.
        for (KilnServer replica : replicas) {
            String name = "h" + (hosts.size() + 1);
            hosts.add(SimulatedHost.enrol(replica.uri(), new KilnClient(replica.uri(), ADMIN), name, 8, 16)
                    .withRunnerGuest(new SimulatedGitLabRunner()).start());
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.requests().getOrDefault("GET /projects/:id/jobs", 0L) >= 2);

        List<Long> jobs = new ArrayList<>();
        for (int i = 0; i < JOBS; i++) {
            if (i % 3 == 0) {
                fake.hooks().dropNext(2); // created and pending: only the reconcile finds this one
            }
            jobs.add(fake.queueJob("acme/widgets", "build-" + i, List.of("kiln-2cpu-4gb"), "make"));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> fake.hooks().idle());
        clock.advance(Duration.ofMinutes(1)); // both replicas reconcile now

        // A runner takes any pending job its tags cover: the jobs whose runner took another (one without a demand) get
        // theirs from a later reconcile, so the clock moves a minute at every look.
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofSeconds(1)).until(() -> {
            clock.advance(Duration.ofMinutes(1));
            return jobs.stream().allMatch(j -> fake.job(j).status().equals("success"));
        });
        await().atMost(Duration.ofSeconds(60)).until(() -> fake.runners().isEmpty()
                && client.jobs(null, 1000).stream().allMatch(j -> j.state().terminal()));

        List<JobView> demands = client.jobs(null, 1000);
        assertThat(demands).as("one demand per GitLab job").hasSize(JOBS).allSatisfy(d -> assertThat(d.kind()).isEqualTo("gitlab"));
        assertThat(demands).extracting(JobView::state).containsOnly(JobState.SUCCEEDED);
        List<Long> runners = new ArrayList<>();
        for (long job : jobs) {
            assertThat(fake.job(job).runnerId()).as("GitLab job %d ran on a runner", job).isNotNull();
            runners.add(fake.job(job).runnerId());
            assertThat(count(database, "SELECT COUNT(*) FROM gitlab_runners WHERE took_job = " + job)).as("GitLab job %d taken once", job).isOne();
        }
        assertThat(runners).as("each on a runner of its own").doesNotHaveDuplicates();
        long vms = hosts.stream().mapToLong(h -> h.launched().size()).sum();
        assertThat(vms).as("one VM per demand").isEqualTo(JOBS);
        assertThat(fake.requests()).as("one runner made per VM, deleted once")
                .containsEntry("POST /user/runners", vms).containsEntry("DELETE /runners/:id", vms);
        assertThat(count(database, "SELECT COUNT(DISTINCT vm_id) FROM gitlab_runners WHERE deleted_at IS NOT NULL")).isEqualTo(vms);
    }

    private static long count(String database, String sql) throws Exception {
        try (var connection = DriverManager.getConnection(database); var result = connection.createStatement().executeQuery(sql)) {
            return result.next() ? result.getLong(1) : 0;
        }
    }
}
