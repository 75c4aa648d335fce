package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.kiln.testkit.NetworkLab;
import dev.kiln.testkit.TestingClock;
import dev.kiln.testkit.gitlab.FakeGitLab;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.UUID;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The runner image: Docker answers when the job starts, builds and runs images, and forgets them. */
@Tag("vm")
@Timeout(400)
class RunnerImageTest {
    @RegisterExtension
    static final TestHost host = new TestHost("runner-test");

    private VmSpec docker(String script) {
        VmSpec spec = new VmSpec(VmEngine.newVmId(), host.image, 2, 2048, 4, Duration.ofMinutes(5),
                List.of("bash", "-c", script), Map.of(), true);
        host.vmIds.add(spec.vmId());
        return spec;
    }

    @Test
    void theGuestStartsTheImagesRunnerWithItsJitConfigAsTheRunnerUser() {
        assertThat(host.image.runnerVersion()).isEqualTo("2.999.0-standin");
        host.lab.publishOnInternet("_apis/connectionData", "{}");
        Base64.Encoder b64 = Base64.getEncoder();
        String runnerFile = """
                {"agentId": 7, "agentName": "kiln-runner-7", "poolId": 1, "serverUrl": "http://%s/",
                 "gitHubUrl": "https://github.com/acme", "workFolder": "_work"}""".formatted(NetworkLab.INTERNET_ADDRESS);
        String secretToken = "jit-secret-" + UUID.randomUUID();
        String credentials = "{\"scheme\": \"OAuthAccessToken\", \"data\": {\"token\": \"" + secretToken + "\"}}";
        String jitConfig = b64.encodeToString(("{\".runner\": \"" + b64.encodeToString(runnerFile.getBytes(UTF_8))
                + "\", \".credentials\": \"" + b64.encodeToString(credentials.getBytes(UTF_8)) + "\"}").getBytes(UTF_8));
        VmSpec spec = VmSpec.forRunner(VmEngine.newVmId(), host.image, 1, 1024, 2, Duration.ofMinutes(4), jitConfig,
                Map.of());
        host.vmIds.add(spec.vmId());
        assertThat(spec.toString()).doesNotContain(jitConfig);

        var output = new TestHost.Output();
        VmResult result = host.engine.run(spec, output);

        assertThat(result.exitCode()).as(result.detail() + "\n" + output.stderr()).hasValue(0);
        assertThat(output.stdout().lines()).containsExactly(
                "stand-in runner 2.999.0-standin: agent kiln-runner-7 as runner for https://github.com/acme",
                "connected to http://%s/: HTTP 200".formatted(NetworkLab.INTERNET_ADDRESS));
        assertThat(output.stdout() + output.stderr() + result.detail()).doesNotContain(secretToken).doesNotContain(jitConfig);
    }

    @Test
    void aGitLabRunnerVmTakesItsOneJobRunsItAsTheRunnerUserAndReportsItToGitLab() throws Exception {
        try (FakeGitLab gitlab = FakeGitLab.start(new TestingClock())) {
            gitlab.addGroup("acme");
            long project = gitlab.addProject("acme/widgets");
            gitlab.addUser("kiln-bot", false);
            gitlab.addMember("acme/widgets", "kiln-bot", FakeGitLab.Role.MAINTAINER);
            String access = gitlab.addAccessToken("kiln-bot", "api");
            long job = gitlab.queueJob("acme/widgets", "build", List.of("kiln"),
                    "echo \"built as $(id -un) on $(hostname) in $CI_PROJECT_DIR\"\ntest -z \"${CI_SERVER_TOKEN:-}\"\n"
                            + "test ! -e /run/kiln/runner/jitconfig\ndocker info --format 'docker {{.Driver}}'");
            HttpResponse<String> made = HttpClient.newHttpClient().send(HttpRequest.newBuilder(gitlab.url().resolve("/api/v4/user/runners"))
                    .header("PRIVATE-TOKEN", access).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"runner_type\": \"project_type\", \"project_id\": " + project
                            + ", \"tag_list\": [\"kiln\"], \"run_untagged\": false}")).build(), HttpResponse.BodyHandlers.ofString());
            String token = new com.fasterxml.jackson.databind.ObjectMapper().readTree(made.body()).get("token").asText();
            java.net.URI reachable = host.lab.exposeOnInternet(gitlab.url().getPort());
            String credential = "{\"kind\": \"gitlab-runner\", \"url\": \"" + reachable + "\", \"token\": \"" + token + "\"}";
            VmSpec spec = VmSpec.forRunner(VmEngine.newVmId(), host.image, 2, 2048, 4, Duration.ofMinutes(5), credential, Map.of());
            host.vmIds.add(spec.vmId());

            var output = new TestHost.Output();
            VmResult result = host.engine.run(spec, output);

            assertThat(result.exitCode()).as(result.detail() + "\n" + output.stderr()).hasValue(0);
            FakeGitLab.JobView view = gitlab.job(job);
            assertThat(view.status()).as(view.trace()).isEqualTo("success");
            assertThat(view.exitCode()).isZero();
            assertThat(view.trace()).contains("built as runner on kiln-", "in /run/kiln/scratch/work/builds/" + project, "docker overlay2",
                    "Job succeeded");
            assertThat(output.stdout()).contains("finished: success (exit code 0");
            assertThat(output.stdout() + output.stderr() + result.detail()).doesNotContain(token);
        }
    }

    @Test
    void theKernelHasWhatDockersCheckConfigRequiresAndDockerdIsReadyBeforeTheJob() {
        assertThat(host.image.kernel().source()).as("the runner image's kernel").isEqualTo("kiln");
        var output = new TestHost.Output();
        // Debian's docker.io ships Docker's check-config.sh; it reads the running kernel's /proc/config.gz.
        VmResult result = host.engine.run(docker("""
                sudo -n bash /usr/share/docker.io/contrib/check-config.sh 2>&1 | sed "s/$(printf '\\033')\\[[0-9;]*m//g" > /tmp/check
                sed -n '/^Generally Necessary:/,/^Optional Features:/p' /tmp/check | grep -c ': missing' || true
                sed -n '/^- Network Drivers:/,/^- Storage Drivers:/p' /tmp/check | grep -E 'CONFIG_(VXLAN|IPVLAN|MACVLAN|DUMMY)'
                grep -E 'CONFIG_OVERLAY_FS|cgroup hierarchy' /tmp/check
                grep ': missing' /tmp/check >&2 || true
                [ -e /proc/modules ] && echo modules || echo no modules
                # containerd of the image's own, started beside dockerd by guest-early, not dockerd's child.
                [ -S /run/containerd/containerd.sock ] && [ "$(cut -d' ' -f4 /proc/$(pidof containerd)/stat)" != "$(pidof dockerd)" ] \
                  && echo "containerd is not dockerd's"
                """), output);

        assertThat(result.exitCode()).as(result.detail() + "\n" + output.stderr()).hasValue(0);
        assertThat(output.stdout().lines()).as("check-config.sh's findings; missing:%n%s", output.stderr())
                .containsExactly(
                        "0",
                        "    - CONFIG_VXLAN: enabled",
                        "    - CONFIG_IPVLAN: enabled",
                        "    - CONFIG_MACVLAN: enabled",
                        "    - CONFIG_DUMMY: enabled",
                        "- cgroup hierarchy: cgroupv2",
                        "    - CONFIG_OVERLAY_FS: enabled",
                        "no modules",
                        "containerd is not dockerd's");
        assertThat(output.phases()).containsExactly("init", "network", "dockerd");
    }

    @Test
    void dockerRunsImportsBuildsAndTheNextVmSeesNoneOfIt() {
        var first = new TestHost.Output();
        VmResult made = host.engine.run(docker("""
                set -euo pipefail
                docker info --format 'docker {{.Driver}} {{.CgroupVersion}}'
                mkdir -p /tmp/rootfs/bin
                cp /bin/busybox /tmp/rootfs/bin/
                for tool in sh echo cat; do ln -s busybox /tmp/rootfs/bin/$tool; done
                tar -C /tmp/rootfs -c . | docker import - kiln-test/busybox:1 > /dev/null
                docker run --rm kiln-test/busybox:1 echo hello from a container
                mkdir /tmp/context
                printf 'FROM kiln-test/busybox:1\\nRUN echo built in a Dockerfile > /built.txt\\nCMD ["cat", "/built.txt"]\\n' > /tmp/context/Dockerfile
                docker build -q -t kiln-test/built:1 /tmp/context > /dev/null
                docker run --rm kiln-test/built:1
                echo "sudo uid $(sudo -n id -u), groups $(id -nG)"
                docker run -d --name left-running kiln-test/busybox:1 sh -c 'sleep 600' > /dev/null
                echo marker > /home/runner/marker
                echo "images $(docker images -q | wc -l) containers $(docker ps -aq | wc -l)"
                """), first);

        assertThat(made.exitCode()).as(made.detail() + "\n" + first.stderr()).hasValue(0);
        assertThat(first.stdout().lines()).containsExactly(
                "docker overlay2 2",
                "hello from a container",
                "built in a Dockerfile",
                "sudo uid 0, groups runner docker",
                "images 2 containers 1");

        var second = new TestHost.Output();
        VmResult fresh = host.engine.run(docker("""
                echo "images $(docker images -q | wc -l) containers $(docker ps -aq | wc -l)"
                ls /home/runner/marker 2>/dev/null || echo no marker
                """), second);
        assertThat(fresh.exitCode()).as(fresh.detail()).hasValue(0);
        assertThat(second.stdout().lines()).containsExactly("images 0 containers 0", "no marker");
    }
}
