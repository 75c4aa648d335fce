package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobRequest;
import dev.kiln.api.JobView;
import dev.kiln.api.LogPage;
import dev.kiln.core.JobState;
import dev.kiln.images.ImageManifest;
import dev.kiln.images.ImageStore;
import dev.kiln.testkit.Closing;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control plane with real VMs: a real server and two agents driving the real engine, each
 * host's VM networking in a network namespace lab of its own. Jobs are scheduled across both
 * hosts, boot, run, report their output and exit codes, and leave nothing behind.
 */
@Tag("vm")
@Timeout(300)
class RealVmFleetTest {
    @TempDir
    Path dir;
    private TestFleet fleet;
    private RealHosts hosts;

    @AfterEach
    void stop() {
        Closing.all(fleet, hosts);
    }

    private TestFleet fleet(ImageStore served) {
        RealHosts.requireImage("default");
        fleet = new TestFleet(dir, c -> c, served);
        hosts = new RealHosts(fleet);
        return fleet;
    }

    @Test
    void aHostWithoutTheImageFetchesItByDigestFromTheServerAndVerifiesIt() throws Exception {
        ImageStore served = new ImageStore(RealHosts.IMAGES);
        ImageManifest image = served.findByName("default").orElseThrow();
        fleet(served);
        Path state = hosts.add("h1", 3, true).state();

        JobView job = fleet.client.submit(JobRequest.command(List.of("echo", "from a fetched image"), 1, 1024, 2));
        assertThat(job.image()).as("the launch names the image's digest").isEqualTo(image.digest());
        await().atMost(Duration.ofSeconds(240)).until(() -> fleet.client.job(job.id()).state().terminal());

        assertThat(fleet.client.job(job.id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(text(job)).isEqualTo("from a fetched image\n");
        ImageStore local = new ImageStore(state.resolve("images"));
        assertThat(local.list()).extracting(ImageManifest::digest).containsExactly(image.digest());
        local.verify(local.list().getFirst());
        // The agent reported how the VM booted: the digest it booted, and its boot and phases on /metrics.
        assertThat(fleet.client.job(job.id()).imageDigest()).isEqualTo(image.digest());
        HttpResponse<String> metrics = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                fleet.server.uri().resolve("/metrics")).header("Authorization", "Bearer " + TestFleet.ADMIN).build(),
                HttpResponse.BodyHandlers.ofString());
        java.util.Map<String, Double> samples = new java.util.HashMap<>();
        metrics.body().lines().filter(l -> !l.isBlank() && !l.startsWith("#")).forEach(l ->
                samples.put(l.substring(0, l.lastIndexOf(' ')), Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))));
        assertThat(samples).containsEntry("kiln_vm_boot_seconds_count", 1.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"init\"}", 1.0)
                .containsEntry("kiln_vm_boot_phase_seconds_count{phase=\"network\"}", 1.0);
        double bootSeconds = samples.get("kiln_vm_boot_seconds_sum");
        assertThat(bootSeconds).as("VMM start to the ready marker").isPositive().isLessThan(240);

        HttpResponse<String> anonymous = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                fleet.server.uri().resolve("/api/v1/images/" + image.digest())).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).as("images are served to hosts only").isEqualTo(401);
    }

    @Test
    void jobsRunInRealVmsAcrossTwoHosts() throws Exception {
        fleet(null);
        hosts.add("h1", 1, false);
        hosts.add("h2", 2, false);

        List<JobView> jobs = List.of(
                fleet.client.submit(JobRequest.command(List.of("sh", "-c", "echo job one on $(hostname)"), 1, 1024, 2)),
                fleet.client.submit(JobRequest.command(List.of("sh", "-c", "echo job two; exit 3"), 1, 1024, 2)),
                fleet.client.submit(JobRequest.command(List.of("sh", "-c", "echo job three"), 1, 1024, 2)));

        Set<String> hostsUsed = new HashSet<>();
        for (JobView job : jobs) {
            await().atMost(Duration.ofSeconds(240)).until(() -> fleet.client.job(job.id()).state().terminal());
            JobView done = fleet.client.job(job.id());
            assertThat(done.timeline()).extracting(JobEvent::state).containsSubsequence(JobState.QUEUED,
                    JobState.SCHEDULED, JobState.STARTING, JobState.RUNNING);
            hostsUsed.add(done.host());
        }
        assertThat(fleet.client.job(jobs.get(0).id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(fleet.client.job(jobs.get(1).id()).state()).isEqualTo(JobState.FAILED);
        assertThat(fleet.client.job(jobs.get(1).id()).exitCode()).isEqualTo(3);
        assertThat(fleet.client.job(jobs.get(2).id()).state()).isEqualTo(JobState.SUCCEEDED);
        assertThat(text(jobs.get(0))).startsWith("job one on kiln-");
        assertThat(text(jobs.get(1))).isEqualTo("job two\n");
        assertThat(hostsUsed).as("a 1 GiB job fits one at a time per host: both hosts took jobs")
                .containsExactlyInAnyOrder("h1", "h2");

        await().atMost(Duration.ofSeconds(30)).until(() -> fleet.client.vms().isEmpty());
        hosts.assertNothingLeft(jobs.stream().map(j -> fleet.client.job(j.id()).vm()).toList());
    }

    private String text(JobView job) {
        LogPage page = fleet.client.logs(job.id(), 0, Duration.ZERO);
        return page.entries().stream().map(LogPage.Entry::text).collect(Collectors.joining());
    }
}
