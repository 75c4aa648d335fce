package dev.kiln.vm;

import static dev.kiln.testkit.NetworkLab.HOST_LAN_ADDRESS;
import static dev.kiln.testkit.NetworkLab.HOST_PORT;
import static dev.kiln.testkit.NetworkLab.HOST_UPLINK_ADDRESS;
import static dev.kiln.testkit.NetworkLab.INTERNET_ADDRESS;
import static dev.kiln.testkit.NetworkLab.LAN_HOST_ADDRESS;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two VMs at once inside a lab network: neither sees the other's files, A cannot reach B, the
 * host (over IPv4 or IPv6) or a private-network host, and reaches the "internet" through NAT; the
 * next VM sees nothing of either.
 */
@Tag("vm")
@Timeout(300)
class IsolationTest {
    private static final Pattern READY = Pattern.compile("B-READY (\\S+) (\\S+)");
    @RegisterExtension
    static final TestHost host = new TestHost("default");

    @Test
    void vmsAreIsolatedFromEachOtherTheHostAndPrivateNetworks() throws Exception {
        probe(host);
    }

    /** The probes, on the image of {@code host}: every guest architecture must pass the same ones. */
    static void probe(TestHost host) throws Exception {
        // Positive controls: every server the VM must not reach is up and reachable from the host.
        assertThat(host.lab.fetchFromHost("http://" + LAN_HOST_ADDRESS + "/")).isEqualTo("lan-ok");
        assertThat(host.lab.fetchFromHost("http://" + INTERNET_ADDRESS + "/")).isEqualTo("internet-ok");
        assertThat(host.lab.fetchFromHost("http://" + HOST_UPLINK_ADDRESS + ":" + HOST_PORT + "/")).isEqualTo("host-ok");

        var outputB = new TestHost.Output();
        VmSpec specB = host.spec(1, 384, Duration.ofMinutes(4), "sh", "-c", """
                echo from-b > /home/runner/from-b
                mkdir -p /tmp/www && echo b-ok > /tmp/www/index.html
                busybox httpd -p 8080 -h /tmp/www
                echo "B-READY $(ip -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1) $(ip route | awk '/default/ {print $3}')"
                sleep 600
                """);
        CompletableFuture<VmResult> runB = CompletableFuture.supplyAsync(() -> host.engine.run(specB, outputB),
                runnable -> Thread.ofVirtual().start(runnable));
        Matcher ready = awaitOutput(outputB, READY, Duration.ofSeconds(120));
        String addressB = ready.group(1);
        assertThat(host.lab.fetchFromHost("http://" + addressB + ":8080/")).as("B serves, seen from the host").isEqualTo("b-ok");
        assertVmmConfinement(specB);
        assertThat(host.engine.vmsUsing(host.image)).as("an image in use is not removable").containsExactly(specB.vmId());

        var outputA = new TestHost.Output();
        VmSpec specA = new VmSpec(VmEngine.newVmId(), host.image, 1, 384, 2, Duration.ofMinutes(3), List.of("sh", "-c", """
                check() { if wget -q -T 3 -t 1 -O /tmp/got "$2" 2>/dev/null; then echo "$1 reached $(cat /tmp/got)"; else echo "$1 blocked"; fi; }
                [ -e /home/runner/from-b ] && echo "b-file present" || echo "b-file absent"
                echo from-a > /home/runner/from-a
                gateway=$(ip route | awk '/default/ {print $3}')
                check vm-b "http://$ADDRESS_B:8080/"
                check gateway "http://$gateway:%1$d/"
                check host-uplink "http://%2$s:%1$d/"
                check host-lan "http://%3$s:%1$d/"
                check lan-host "http://%4$s/"
                check internet "http://%5$s/"
                # IPv6, which the guest init leaves off and a hostile guest turns on: whoever answers the
                # all-nodes ping on the link (the host's end of the tap, if it has an address and lets
                # IPv6 in) is asked for the host's page (busybox httpd on [::]).
                echo 0 | sudo tee /proc/sys/net/ipv6/conf/eth0/disable_ipv6 > /dev/null
                for i in 1 2 3 4 5 6 7 8 9 10; do ip -6 addr show dev eth0 | grep -q tentative || break; sleep 0.5; done
                own=$(ip -6 -o addr show dev eth0 scope link | sed 's/.*inet6 \\([^/]*\\).*/\\1/')
                [ -n "$own" ] || echo "the guest has no IPv6 link-local address to probe from"
                sudo busybox ping -6 -c 2 -w 3 -I eth0 ff02::1 > /tmp/ping6 2>&1
                v6=blocked
                for peer in $(sed -n 's/.*bytes from \\(fe80:[0-9a-f:]*[0-9a-f]\\): .*/\\1/p' /tmp/ping6 | sort -u); do
                  [ "$peer" = "$own" ] && continue
                  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 3 "$peer%%eth0" %1$d | grep -q host-ok && v6="reached $peer"
                done
                echo "host-ipv6 $v6"
                """.formatted(HOST_PORT, HOST_UPLINK_ADDRESS, HOST_LAN_ADDRESS, LAN_HOST_ADDRESS, INTERNET_ADDRESS)),
                Map.of("ADDRESS_B", addressB), true);
        host.vmIds.add(specA.vmId());
        VmResult resultA = host.engine.run(specA, outputA);

        assertThat(resultA.exitCode()).as(resultA.detail() + " / " + outputA.stderr()).hasValue(0);
        assertThat(outputA.stdout().lines()).containsExactly(
                "b-file absent",
                "vm-b blocked",
                "gateway blocked",
                "host-uplink blocked",
                "host-lan blocked",
                "lan-host blocked",
                "internet reached internet-ok",
                "host-ipv6 blocked");

        host.engine.cancel(specB.vmId());
        VmResult resultB = runB.get();
        assertThat(resultB.outcome()).isEqualTo(VmResult.Outcome.CANCELLED);
        assertThat(outputB.stdout()).doesNotContain("from-a");

        var outputC = new TestHost.Output();
        VmResult resultC = host.engine.run(host.spec("sh", "-c", "ls -A /home/runner; ls -A /run/kiln/scratch/work"), outputC);
        assertThat(resultC.exitCode()).hasValue(0);
        assertThat(outputC.stdout()).doesNotContain("from-a").doesNotContain("from-b");
        host.assertNothingLeft();
        assertThat(host.engine.vmsUsing(host.image)).isEmpty();
    }

    /** B's VMM runs unprivileged, sandboxed, inside a cgroup that carries B's limits. */
    private static void assertVmmConfinement(VmSpec spec) throws Exception {
        ProcessHandle qemu = ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("-name kiln-" + spec.vmId()))
                .findFirst().orElseThrow(() -> new AssertionError("no QEMU process for " + spec.vmId()));
        assertThat(qemu.info().user()).hasValue(EngineConfig.DEFAULT_VMM_USER);
        assertThat(qemu.info().commandLine().orElseThrow()).contains("-sandbox on,obsolete=deny,elevateprivileges=deny");
        Cgroups cgroups = Cgroups.detect();
        for (java.nio.file.Path group : cgroups.paths(spec.vmId())) {
            assertThat(Cgroups.processes(group)).contains(qemu.pid());
        }
        if (cgroups.version() == Cgroups.Version.V1) {
            java.nio.file.Path cpu = cgroups.paths(spec.vmId()).get(0);
            java.nio.file.Path memory = cgroups.paths(spec.vmId()).get(1);
            assertThat(java.nio.file.Files.readString(cpu.resolve("cpu.cfs_quota_us")).strip())
                    .isEqualTo(Long.toString(Cgroups.quotaMicros(spec.cpus())));
            assertThat(Long.parseLong(java.nio.file.Files.readString(memory.resolve("memory.limit_in_bytes")).strip()))
                    .isEqualTo(VmResources.memoryLimitBytes(spec.memoryMib()));
        } else {
            java.nio.file.Path group = cgroups.paths(spec.vmId()).getFirst();
            assertThat(java.nio.file.Files.readString(group.resolve("cpu.max")).strip())
                    .isEqualTo(Cgroups.quotaMicros(spec.cpus()) + " 100000");
            assertThat(Long.parseLong(java.nio.file.Files.readString(group.resolve("memory.max")).strip()))
                    .isEqualTo(VmResources.memoryLimitBytes(spec.memoryMib()));
        }
    }

    private static Matcher awaitOutput(TestHost.Output output, Pattern pattern, Duration timeout) throws InterruptedException {
        Instant deadline = Instant.now().plus(timeout);
        while (Instant.now().isBefore(deadline)) {
            Matcher matcher = pattern.matcher(output.stdout());
            if (matcher.find()) {
                return matcher;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no " + pattern + " in the guest's output within " + timeout + ": " + output.stdout());
    }
}
