package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.core.JobState;
import dev.kiln.testkit.TestingClock;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code /metrics} scraped during a simulated fleet run: what it counts is what happened (jobs by state, VM
 * launches by outcome, hosts and their room), only the admin token reads it, and promtool accepts it.
 */
@Timeout(120)
class MetricsTest {
    static final String ADMIN = ServerFleetTest.ADMIN;

    @TempDir
    Path dir;
    /** The same server, clock and client as ServerFleetTest's, started and stopped around each test here. */
    final ServerFleetTest fleet = new ServerFleetTest();
    final HttpClient http = HttpClient.newHttpClient();
    TestingClock clock;
    KilnServer server;
    KilnClient client;

    @BeforeEach
    void start() {
        fleet.dir = dir;
        fleet.start();
        clock = fleet.clock;
        server = fleet.server;
        client = fleet.client;
    }

    @AfterEach
    void stop() {
        fleet.stop();
        http.close();
    }

    @Test
    void countsWhatHappenedInAFleetRunAndPassesPromtool() throws Exception {
        List<SimulatedHost> hosts = List.of(SimulatedHost.enrol(server.uri(), client, "h1", 4, 8),
                SimulatedHost.enrol(server.uri(), client, "h2", 2, 4));
        List<String> jobs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            jobs.add(client.submit(JobRequest.command(List.of("true"), 2, 4 * 1024, 10)).id());
        }
        // Room for three 2-vCPU, 4 GiB jobs: two wait.
        syncUntil(hosts, () -> launchedCount(hosts) == 3);
        List<String> first = jobs.stream().filter(j -> hostOf(hosts, j) != null).toList();
        List<String> waiting = jobs.stream().filter(j -> hostOf(hosts, j) == null).toList();
        assertThat(scrape()).containsEntry("kiln_jobs{state=\"queued\"}", 2.0)
                .containsEntry("kiln_queue_wait_seconds_count", 3.0).containsEntry("kiln_queue_wait_seconds_sum", 0.0);

        // Less than the 60 s after which a silent host is offline: the hosts stay active.
        clock.advance(Duration.ofSeconds(45));
        assertThat(client.cancel(waiting.get(1)).state()).isEqualTo(JobState.CANCELLED);
        end(hosts, first.get(0), 0);
        syncUntil(hosts, () -> client.job(waiting.get(0)).state() == JobState.RUNNING);
        end(hosts, first.get(1), 1);
        syncUntil(hosts, () -> client.job(first.get(2)).state() == JobState.RUNNING);

        Map<String, Double> m = scrape();
        assertThat(m).containsEntry("kiln_jobs{state=\"queued\"}", 0.0)
                .containsEntry("kiln_jobs{state=\"running\"}", 2.0)
                .containsEntry("kiln_jobs{state=\"succeeded\"}", 1.0)
                .containsEntry("kiln_jobs{state=\"failed\"}", 1.0)
                .containsEntry("kiln_jobs{state=\"cancelled\"}", 1.0)
                .containsEntry("kiln_vm_launches_total{outcome=\"exited\"}", 2.0)
                .containsEntry("kiln_vm_launches_total{outcome=\"failed\"}", 0.0)
                .containsEntry("kiln_vms{state=\"running\"}", 2.0)
                .containsEntry("kiln_hosts{state=\"active\"}", 2.0)
                .containsEntry("kiln_hosts{state=\"offline\"}", 0.0)
                // Three placed at once, the fourth after 45 s of the test's clock.
                .containsEntry("kiln_queue_wait_seconds_count", 4.0)
                .containsEntry("kiln_queue_wait_seconds_sum", 45.0)
                .containsEntry("kiln_queue_wait_seconds_bucket{le=\"30.0\"}", 3.0)
                .containsEntry("kiln_queue_wait_seconds_bucket{le=\"60.0\"}", 4.0);
        assertThat(m.get("kiln_scheduling_pass_seconds_count")).isGreaterThanOrEqualTo(2.0);
        assertThat(sum(m, "kiln_host_vcpus", "used")).isEqualTo(4.0);
        assertThat(sum(m, "kiln_host_vcpus", "free")).isEqualTo(2.0);
        assertThat(sum(m, "kiln_host_memory_bytes", "used")).isEqualTo((double) (8L << 30));
        assertThat(sum(m, "kiln_host_memory_bytes", "free")).isEqualTo((double) (4L << 30));
        assertThat(m).containsKey("kiln_host_vcpus{arch=\"x86_64\",host=\"h2\",use=\"free\"}");

        promtoolAccepts(get(ADMIN).body());
    }

    @Test
    void onlyTheAdminTokenReadsTheMetrics() throws Exception {
        assertThat(get(null).statusCode()).isEqualTo(401);
        HttpResponse<String> wrong = get("not-the-admin-token");
        assertThat(wrong.statusCode()).isEqualTo(401);
        assertThat(wrong.body()).contains("admin token").doesNotContain(ADMIN);
        assertThat(get(ADMIN).statusCode()).isEqualTo(200);
        HttpResponse<String> post = http.send(HttpRequest.newBuilder(URI.create(server.uri() + "/metrics"))
                .header("Authorization", "Bearer " + ADMIN).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET");
    }

    private static double sum(Map<String, Double> samples, String name, String use) {
        return samples.entrySet().stream().filter(e -> e.getKey().startsWith(name + "{")
                && e.getKey().endsWith(",use=\"" + use + "\"}")).mapToDouble(Map.Entry::getValue).sum();
    }

    private static int launchedCount(List<SimulatedHost> hosts) {
        return hosts.stream().mapToInt(h -> h.launches().size()).sum();
    }

    /** Waits (the scheduling loop runs on its own thread) while the hosts keep syncing, as agents do. */
    private static void syncUntil(List<SimulatedHost> hosts, java.util.function.BooleanSupplier done) {
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            hosts.forEach(SimulatedHost::sync);
            return done.getAsBoolean();
        });
    }

    private static SimulatedHost hostOf(List<SimulatedHost> hosts, String job) {
        return hosts.stream().filter(h -> h.launches().values().stream().anyMatch(l -> l.job().equals(job)))
                .findFirst().orElse(null);
    }

    private void end(List<SimulatedHost> hosts, String job, int code) {
        SimulatedHost host = hostOf(hosts, job);
        String vm = host.launches().values().stream().filter(l -> l.job().equals(job)).findFirst().orElseThrow().id();
        host.exit(vm, code);
        syncUntil(hosts, () -> client.job(job).state().terminal());
    }

    private HttpResponse<String> get(String token) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.uri() + "/metrics"));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Each sample by its name and labels as written ({@code name{a="x",b="y"}}), to its value. */
    private Map<String, Double> scrape() throws IOException, InterruptedException {
        HttpResponse<String> answer = get(ADMIN);
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
        assertThat(answer.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
        Map<String, Double> samples = new HashMap<>();
        answer.body().lines().filter(l -> !l.isBlank() && !l.startsWith("#")).forEach(l -> {
            int space = l.lastIndexOf(' ');
            samples.put(l.substring(0, space), Double.parseDouble(l.substring(space + 1)));
        });
        return samples;
    }

    private void promtoolAccepts(String exposition) throws IOException, InterruptedException {
        Path promtool = Stream.of(System.getenv("PATH").split(":")).map(d -> Path.of(d, "promtool"))
                .filter(Files::isExecutable).findFirst()
                .orElseThrow(() -> new AssertionError("promtool is missing: install Debian's prometheus package (bin/setup does)"));
        Process check = new ProcessBuilder(promtool.toString(), "check", "metrics").redirectErrorStream(true).start();
        try (OutputStream in = check.getOutputStream()) {
            in.write(exposition.getBytes(StandardCharsets.UTF_8));
        }
        String said = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!check.waitFor(60, TimeUnit.SECONDS)) {
            check.destroyForcibly().waitFor();
            fail("promtool check metrics did not end in 60 s");
        }
        assertThat(check.exitValue()).as("promtool check metrics said: %s\non:\n%s", said, exposition).isZero();
    }
}
