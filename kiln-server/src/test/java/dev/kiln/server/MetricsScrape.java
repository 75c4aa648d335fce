package dev.kiln.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** A scrape of a server's {@code /metrics} as Prometheus makes it, its samples by name and labels, and promtool's verdict. */
public final class MetricsScrape {
    private MetricsScrape() {}

    /** The exposition text, checked to be a 200 in Prometheus' text format. */
    public static String text(URI server, String adminToken) throws IOException, InterruptedException {
        try (HttpClient http = HttpClient.newHttpClient()) {
            HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create(server + "/metrics"))
                    .header("Authorization", "Bearer " + adminToken).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
            assertThat(answer.headers().firstValue("Content-Type")).hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
            return answer.body();
        }
    }

    /** Each sample by its name and labels as written ({@code name{a="x",b="y"}}), to its value. */
    public static Map<String, Double> samples(String exposition) {
        Map<String, Double> samples = new HashMap<>();
        exposition.lines().filter(l -> !l.isBlank() && !l.startsWith("#")).forEach(l -> {
            int space = l.lastIndexOf(' ');
            samples.put(l.substring(0, space), Double.parseDouble(l.substring(space + 1)));
        });
        return samples;
    }

    /** The sum of the samples of {@code name} whose labels contain every one of {@code labels} ({@code a="x"}). */
    public static double sum(Map<String, Double> samples, String name, String... labels) {
        return samples.entrySet().stream().filter(e -> e.getKey().startsWith(name + "{")
                && Stream.of(labels).allMatch(l -> e.getKey().contains(l))).mapToDouble(Map.Entry::getValue).sum();
    }

    /** {@code promtool check metrics} accepts the exposition (Debian's prometheus package; bin/setup installs it). */
    public static void promtoolAccepts(String exposition) throws IOException, InterruptedException {
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
