package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import dev.kiln.api.VmReport;
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
    static final String DIGEST_A = "sha256:" + "a".repeat(64);
    static final String DIGEST_B = "sha256:" + "b".repeat(64);

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
        // Each host's VMs boot as its agent reports: h1's fast from one image, h2's slow from another.
        VmReport.Boot fast = new VmReport.Boot(DIGEST_A, 1.5, Map.of("init", 0.4, "network", 0.8, "dockerd", 1.2));
        VmReport.Boot slow = new VmReport.Boot(DIGEST_B, 4.0, Map.of("init", 1.0, "network", 2.5));
        List<SimulatedHost> hosts = List.of(SimulatedHost.enrol(server.uri(), client, "h1", 4, 8).withBoot(fast),
                SimulatedHost.enrol(server.uri(), client, "h2", 2, 4).withBoot(slow));
        hosts.get(1).cleanupFailures(2);
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

        // Boots: one per VM that booted (four launched), each kept once however often its host repeats it.
        long onH1 = hosts.get(0).launched().size();
        long onH2 = hosts.get(1).launched().size();
        assertThat(onH1 + onH2).isEqualTo(4);
        assertThat(m).containsEntry("kiln_vm_boot_seconds_count", 4.0)
                .containsEntry("kiln_vm_boot_seconds_sum", onH1 * 1.5 + onH2 * 4.0)
                .containsEntry("kiln_vm_boot_seconds_bucket{le=\"1.0\"}", 0.0)
                .containsEntry("kiln_vm_boot_seconds_bucket{le=\"2.0\"}", (double) onH1)
                .containsEntry("kiln_vm_boot_seconds_bucket{le=\"5.0\"}", 4.0)
                .containsEntry("kiln_vm_boot_seconds_bucket{le=\"+Inf\"}", 4.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"init\"}", 4.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"network\"}", 4.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"dockerd\"}", (double) onH1)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"sshd\"}", 0.0)
                .containsEntry("kiln_vm_boot_phase_seconds_sum{phase=\"network\"}", onH1 * 0.8 + onH2 * 2.5)
                .containsEntry("kiln_host_vms{host=\"h1\"}", (double) hosts.get(0).running().size())
                .containsEntry("kiln_host_vms{host=\"h2\"}", (double) hosts.get(1).running().size())
                .containsEntry("kiln_agent_cleanup_failures_total{host=\"h1\"}", 0.0)
                .containsEntry("kiln_agent_cleanup_failures_total{host=\"h2\"}", 2.0);
        // The job's answer names the digest its VM booted.
        for (String job : first) {
            assertThat(client.job(job).imageDigest()).isEqualTo(hostOf(hosts, job) == hosts.get(0) ? DIGEST_A : DIGEST_B);
        }
        assertThat(client.job(waiting.get(1)).imageDigest()).as("a job cancelled while queued booted nothing").isNull();

        MetricsScrape.promtoolAccepts(get(ADMIN).body());
    }

    @Test
    void aBootIsCountedOnceAndAReportOfABadBootIsRefused() throws Exception {
        SimulatedHost host = SimulatedHost.enrol(server.uri(), client, "h1", 4, 8)
                .withBoot(new VmReport.Boot(DIGEST_A, 0.9, Map.of("init", 0.3)));
        String job = client.submit(JobRequest.command(List.of("true"), 1, 1024, 10)).id();
        syncUntil(List.of(host), () -> client.job(job).state() == JobState.RUNNING);
        for (int i = 0; i < 5; i++) {
            host.sync(); // every report repeats the boot
        }
        Map<String, Double> m = scrape();
        assertThat(m).containsEntry("kiln_vm_boot_seconds_count", 1.0).containsEntry("kiln_vm_boot_seconds_sum", 0.9)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"init\"}", 1.0);

        // An agent's report with a boot that is not one is refused whole, naming what is wrong.
        String token = dev.kiln.api.AgentClient.enrol(server.uri(), client.addHost("h9").enrolmentToken()).hostToken();
        dev.kiln.api.AgentClient agent = new dev.kiln.api.AgentClient(server.uri(), token);
        VmReport bad = new VmReport("vm-x", dev.kiln.api.VmState.RUNNING, null, null, null, null,
                new VmReport.Boot("latest", 1, Map.of()));
        assertThatThrownBy(() -> agent.sync(new dev.kiln.api.AgentReport("b", 1, "t", "x86_64", 2, 2048, 10, null,
                List.of(bad)), Duration.ZERO)).hasMessageContaining("boot.imageDigest 'latest'");
        VmReport negative = new VmReport("vm-x", dev.kiln.api.VmState.RUNNING, null, null, null, null,
                new VmReport.Boot(DIGEST_A, -1, Map.of()));
        assertThatThrownBy(() -> agent.sync(new dev.kiln.api.AgentReport("b", 1, "t", "x86_64", 2, 2048, 10, null,
                List.of(negative)), Duration.ZERO)).hasMessageContaining("boot.seconds must be from 0");
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

    private Map<String, Double> scrape() throws IOException, InterruptedException {
        return MetricsScrape.samples(MetricsScrape.text(server.uri(), ADMIN));
    }
}
