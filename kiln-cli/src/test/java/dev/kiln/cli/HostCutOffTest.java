package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.testkit.Leftovers;
import dev.kiln.testkit.OpenSsh;
import dev.kiln.testkit.TestStateDir;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hosts as network namespaces of their own, each with a real agent booting real VMs, and the server
 * in a third; a host's link is cut for real. After the offline threshold its running job is LOST
 * and its job that had not started runs on the other host; reconnected, it stops what it should not run. A host
 * behind NAT still serves a debugging session through the server's SSH gateway.
 */
@Tag("vm")
@Timeout(420)
class HostCutOffTest {
    static final String ADMIN = "cutoff-test-admin-token-0123456789";
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private final String suffix = Integer.toHexString(ThreadLocalRandom.current().nextInt(0x10000, 0xfffff));
    private final String serverNs = "kiln-s-" + suffix;
    private final List<String> namespaces = new ArrayList<>();
    private final List<KilnProcess> processes = new ArrayList<>();
    private final List<TestStateDir> states = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (KilnProcess process : processes.reversed()) {
            process.stop();
        }
        for (String ns : namespaces) {
            sh("ip", "netns", "del", ns);
        }
        states.forEach(TestStateDir::close);
    }

    @Test
    void aCutOffHostLosesItsRunningJobAndItsUnstartedJobRunsElsewhere() throws Exception {
        sh("ip", "netns", "add", serverNs);
        namespaces.add(serverNs);
        sh("ip", "-n", serverNs, "link", "set", "lo", "up");
        processes.add(KilnProcess.startIn(serverNs, List.of("server", "--data-dir", dir.resolve("server").toString(),
                "--listen", "0.0.0.0:7878", "--offline-after", "30s"), Map.of("KILN_ADMIN_TOKEN", ADMIN),
                dir.resolve("server.log")));
        host("a", 1);
        host("b", 2);

        String first = submit("echo first started; sleep 600");
        await().atMost(Duration.ofSeconds(180)).until(() -> state(first).equals("RUNNING"));
        String cutHost = job(first).get("host").asText();
        // Best fit puts the second job on the same host (it has room for two); cut it off before it runs.
        String second = submit("echo second ran on $(hostname)");
        await().atMost(Duration.ofSeconds(30)).until(() -> !state(second).equals("QUEUED"));
        assertThat(job(second).get("host").asText()).isEqualTo(cutHost);
        sh("ip", "-n", serverNs, "link", "set", "to-" + cutHost, "down");

        await().atMost(Duration.ofSeconds(120)).until(() -> state(first).equals("LOST"));
        await().atMost(Duration.ofSeconds(180)).until(() -> state(second).equals("SUCCEEDED"));
        assertThat(job(second).get("host").asText()).isNotEqualTo(cutHost);
        JsonNode hosts = api("GET", "/api/v1/hosts", null);
        assertThat(hosts.findValuesAsText("state")).contains("OFFLINE");

        // Back on the network, the host learns that its VMs are not wanted and removes them.
        sh("ip", "-n", serverNs, "link", "set", "to-" + cutHost, "up");
        Path cutState = states.get(cutHost.equals("a") ? 0 : 1).path();
        await().atMost(Duration.ofSeconds(90)).until(() -> Leftovers.find(cutState, "kiln-" + cutHost + "-" + suffix,
                List.of()).isEmpty());
        assertThat(state(first)).as("a lost job stays lost").isEqualTo("LOST");
    }

    /**
     * Issue 18's lab: a host behind a NAT router (nftables masquerade in a namespace of its own, forwarding only what
     * the host opened) reaches the server, which has no route to it; a debugging session through the server's SSH
     * gateway still reaches the host's VM, over the connection the agent opened.
     */
    @Test
    void aHostBehindNatServesADebuggingSessionOverItsOwnOutboundConnection() throws Exception {
        sh("ip", "netns", "add", serverNs);
        namespaces.add(serverNs);
        sh("ip", "-n", serverNs, "link", "set", "lo", "up");
        Path key = OpenSsh.keyPair(dir, "admin");
        Path authorized = Files.writeString(dir.resolve("authorized_keys"), Files.readString(OpenSsh.publicKey(key)));
        processes.add(KilnProcess.startIn(serverNs, List.of("server", "--data-dir", dir.resolve("server").toString(),
                "--listen", "0.0.0.0:7878", "--ssh-listen", "0.0.0.0:2222", "--ssh-authorized-keys", authorized.toString()),
                Map.of("KILN_ADMIN_TOKEN", ADMIN), dir.resolve("server.log")));
        // The gateway says "listening on" before the API does.
        await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> api("GET", "/api/v1/hosts", null) != null);
        // The router: its uplink to the server's network, the host's LAN behind it, masquerading what leaves by the
        // uplink and forwarding into the LAN only the replies to what the LAN opened.
        String router = "kiln-r-" + suffix;
        String ns = "kiln-n-" + suffix;
        for (String made : List.of(router, ns)) {
            sh("ip", "netns", "add", made);
            namespaces.add(made);
            sh("ip", "-n", made, "link", "set", "lo", "up");
        }
        sh("ip", "link", "add", "to-router", "netns", serverNs, "type", "veth", "peer", "name", "wan", "netns", router);
        sh("ip", "link", "add", "lan", "netns", router, "type", "veth", "peer", "name", "uplink", "netns", ns);
        sh("ip", "-n", serverNs, "addr", "add", "10.97.0.1/30", "dev", "to-router");
        sh("ip", "-n", router, "addr", "add", "10.97.0.2/30", "dev", "wan");
        sh("ip", "-n", router, "addr", "add", "192.168.97.1/24", "dev", "lan");
        sh("ip", "-n", ns, "addr", "add", "192.168.97.2/24", "dev", "uplink");
        for (String[] link : new String[][] {{serverNs, "to-router"}, {router, "wan"}, {router, "lan"}, {ns, "uplink"}}) {
            sh("ip", "-n", link[0], "link", "set", link[1], "up");
        }
        sh("ip", "-n", ns, "route", "add", "default", "via", "192.168.97.1");
        sh("ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        Path rules = Files.writeString(dir.resolve("nat.nft"), """
                table ip kiln-lab-nat {
                    chain post { type nat hook postrouting priority srcnat; oifname "wan" masquerade; }
                    chain lan_out {
                        type filter hook forward priority filter; policy drop;
                        ct state established,related accept
                        iifname "lan" oifname "wan" accept
                    }
                }
                """);
        sh("ip", "netns", "exec", router, "nft", "-f", rules.toString());
        assertThat(new ProcessBuilder("ip", "netns", "exec", serverNs, "ping", "-c", "1", "-W", "2", "192.168.97.2")
                .start().waitFor()).as("the server has no way to the host").isNotZero();

        TestStateDir stateDir = TestStateDir.withImages("default");
        states.add(stateDir);
        String token = api("POST", "/api/v1/hosts", "{\"name\": \"natted\"}").get("enrolmentToken").asText();
        processes.add(KilnProcess.startIn(ns, List.of("agent", "--server", "http://10.97.0.1:7878", "--token", token,
                "--state-dir", stateDir.path().toString(), "--accel", "tcg", "--vm-network", "10.209.0.0/24", "--vcpus", "2",
                "--vm-memory", "2304m"), Map.of(), dir.resolve("agent-natted.log")));

        // Ends once released and no session is open: a VM that ended at once would cut the session's own close.
        String job = submit("while [ ! -e /tmp/released ] || pgrep -f '^sshd: runner' > /dev/null; do sleep 0.2; done; echo released");
        await().atMost(Duration.ofSeconds(240)).until(() -> state(job).equals("RUNNING")
                && api("GET", "/api/v1/jobs/" + job + "/ssh", null).path("hostKey").isTextual());
        JsonNode ssh = api("GET", "/api/v1/jobs/" + job + "/ssh", null);
        Path knownHosts = Files.writeString(dir.resolve("known_hosts"), "[127.0.0.1]:2222 "
                + ssh.get("gatewayHostKey").asText() + "\n" + job + " " + ssh.get("hostKey").asText() + "\n");
        String options = "-i " + key + " -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=yes"
                + " -o UserKnownHostsFile=" + knownHosts;
        Process session = new ProcessBuilder("ip", "netns", "exec", serverNs, "sh", "-c", "ssh " + options
                + " -o 'ProxyCommand=ssh " + options + " -p 2222 -W %h:%p admin@127.0.0.1' runner@" + job
                + " 'touch /tmp/released; hostname'").redirectErrorStream(true).start();
        session.getOutputStream().close();
        String out = new String(session.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(session.waitFor()).as(out).isZero();
        assertThat(out).startsWith("kiln-");
        await().atMost(Duration.ofSeconds(120)).until(() -> state(job).equals("SUCCEEDED"));
        assertThat(job(job).get("host").asText()).isEqualTo("natted");
        assertThat(api("GET", "/api/v1/jobs/" + job + "/ssh", null).get("sessions")).hasSize(1);
    }

    /** A host: a namespace linked to the server's, and an agent in it that boots real VMs there. */
    private void host(String name, int index) throws Exception {
        String ns = "kiln-" + name + "-" + suffix;
        sh("ip", "netns", "add", ns);
        namespaces.add(ns);
        sh("ip", "-n", ns, "link", "set", "lo", "up");
        sh("ip", "link", "add", "to-" + name, "netns", serverNs, "type", "veth", "peer", "name", "uplink", "netns", ns);
        sh("ip", "-n", serverNs, "addr", "add", "10.98." + index + ".1/30", "dev", "to-" + name);
        sh("ip", "-n", ns, "addr", "add", "10.98." + index + ".2/30", "dev", "uplink");
        sh("ip", "-n", serverNs, "link", "set", "to-" + name, "up");
        sh("ip", "-n", ns, "link", "set", "uplink", "up");
        TestStateDir stateDir = TestStateDir.withImages("default");
        states.add(stateDir);
        Path state = stateDir.path();
        String token = api("POST", "/api/v1/hosts", "{\"name\": \"" + name + "\"}").get("enrolmentToken").asText();
        processes.add(KilnProcess.startIn(ns, List.of("agent", "--server", "http://10.98." + index + ".1:7878",
                "--token", token, "--state-dir", state.toString(), "--accel", "tcg", "--vm-network",
                "10.20" + (6 + index) + ".0.0/24", "--vcpus", "2", "--vm-memory", "2304m"), Map.of(),
                dir.resolve("agent-" + name + ".log")));
    }

    private String submit(String script) throws Exception {
        return api("POST", "/api/v1/jobs", JSON.writeValueAsString(Map.of("command", List.of("sh", "-c", script),
                "cpus", 1, "memoryMib", 1024, "diskGib", 2))).get("id").asText();
    }

    private JsonNode job(String id) throws Exception {
        return api("GET", "/api/v1/jobs/" + id, null);
    }

    private String state(String id) throws Exception {
        return job(id).get("state").asText();
    }

    /** The API, called from inside the server's namespace (the test's own namespace has no route there). */
    private JsonNode api(String method, String path, String body) throws Exception {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", serverNs, "curl", "-sS", "-f", "-X",
                method, "-H", "Authorization: Bearer " + ADMIN, "-H", "Content-Type: application/json"));
        if (body != null) {
            command.addAll(List.of("--data-binary", body));
        }
        command.add("http://127.0.0.1:7878" + path);
        Process curl = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!curl.waitFor(30, TimeUnit.SECONDS) || curl.exitValue() != 0) {
            throw new IllegalStateException(method + " " + path + " failed: " + out);
        }
        return JSON.readTree(out);
    }

    private static void sh(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0 && !command[command.length - 1].startsWith("kiln-")) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
    }
}
