package dev.kiln.server;

import dev.kiln.api.JobRequest;
import dev.kiln.api.KilnClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * bench/dashboard: each dashboard page's server time (its HTML and the JSON its script draws it from) and a
 * {@code /metrics} scrape against a store of 5,000 jobs and 100 enrolled hosts, beside {@code GET /api/v1/hosts} on the
 * same server in the same run as the baseline. Prints a Markdown table.
 */
public final class MetricsBenchmark {
    private static final String ADMIN = "metrics-benchmark-admin-token-0123456789";
    private static final int HOSTS = 100;
    private static final int JOBS = 5_000;
    private static final int ROUNDS = 200;

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("kiln-metrics-bench");
        try (KilnServer server = KilnServer.start(ServerConfig.defaults("jdbc:sqlite:" + dir.resolve("kiln.db"), ADMIN)
                .withListen("127.0.0.1", 0), InstantSource.system());
                HttpClient http = HttpClient.newHttpClient()) {
            KilnClient client = new KilnClient(server.uri(), ADMIN);
            List<SimulatedHost> hosts = new ArrayList<>();
            for (int i = 0; i < HOSTS; i++) {
                SimulatedHost host = SimulatedHost.enrol(server.uri(), client, "h" + i, 64, 256);
                host.sync();
                hosts.add(host);
            }
            String someJob = null;
            for (int i = 0; i < JOBS; i++) {
                someJob = client.submit(new JobRequest(List.of("true"), java.util.Map.of(), null, List.of("kiln-2cpu-2gb"),
                        null, null, 10, null, null, "org" + (i % 5), "org" + (i % 5) + "/repo" + (i % 40), null)).id();
            }
            // Twice: the first sync starts the VMs it is told of, the second reports them running.
            hosts.forEach(SimulatedHost::sync);
            hosts.forEach(SimulatedHost::sync);
            HttpResponse<String> signedIn = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER).build()
                    .send(HttpRequest.newBuilder(URI.create(server.uri() + "/sign-in"))
                            .header("Content-Type", "application/x-www-form-urlencoded")
                            .POST(HttpRequest.BodyPublishers.ofString("token=" + ADMIN)).build(), HttpResponse.BodyHandlers.ofString());
            String cookie = signedIn.headers().firstValue("Set-Cookie").orElseThrow(() -> new IllegalStateException(
                    "the sign-in gave no cookie: " + signedIn.statusCode())).split(";")[0];
            System.out.println("| request (" + JOBS + " jobs, " + HOSTS + " hosts, " + ROUNDS + " rounds, interleaved)"
                    + " | p50 ms | p95 ms | max ms | bytes |");
            System.out.println("|---|---|---|---|---|");
            String[] paths = {"/metrics", "/api/v1/hosts", "/fleet", "/dashboard/api/fleet", "/dashboard/api/queue",
                "/dashboard/api/jobs", "/dashboard/api/jobs?before=2500", "/dashboard/api/jobs?repo=org3/repo13&state=running",
                "/dashboard/api/jobs?label=kiln-2cpu-2gb&host=h7", "/dashboard/api/jobs/" + someJob, "/dashboard/api/launches"};
            long[][] times = new long[paths.length][ROUNDS];
            int[] bytes = new int[paths.length];
            for (int round = -20; round < ROUNDS; round++) {
                for (int p = 0; p < paths.length; p++) {
                    long start = System.nanoTime();
                    HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(server.uri() + paths[p]))
                            .header("Authorization", "Bearer " + ADMIN).header("Cookie", cookie)
                            .timeout(Duration.ofSeconds(30)).build(),
                            HttpResponse.BodyHandlers.ofString());
                    long took = System.nanoTime() - start;
                    if (answer.statusCode() != 200) {
                        throw new IllegalStateException(paths[p] + " answered " + answer.statusCode() + ": " + answer.body());
                    }
                    if (round >= 0) {
                        times[p][round] = took;
                        bytes[p] = answer.body().length();
                    }
                }
            }
            for (int p = 0; p < paths.length; p++) {
                long[] t = times[p];
                Arrays.sort(t);
                System.out.printf("| GET %s | %.1f | %.1f | %.1f | %,d |%n", paths[p], t[ROUNDS / 2] / 1e6,
                        t[ROUNDS * 95 / 100] / 1e6, t[ROUNDS - 1] / 1e6, bytes[p]);
            }
        }
    }
}
