package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.testkit.NetworkLab;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shared rules, made in a lab's namespace without booting a VM. */
class FirewallTest {
    @TempDir
    Path state;

    @Test
    void theTableSeesIpv6AndReplacesTheIpv4OnlyTableOfEarlierVersions() {
        try (NetworkLab lab = NetworkLab.create()) {
            String ns = lab.hostNamespace();
            // What an earlier Kiln left: an IPv4-only table, blind to a guest's IPv6.
            nft(ns, "add table ip kiln");
            Firewall firewall = new Firewall(ns, Cidr.parse("10.201.0.0/24"), List.of(), state.resolve("firewall.lock"));

            firewall.ensureBaseRules();
            firewall.ensureBaseRules();

            assertThat(nft(ns, "list tables").lines()).contains("table inet kiln").doesNotContain("table ip kiln");
            String rules = nft(ns, "list table inet kiln");
            assertThat(rules).contains("meta nfproto ipv6 drop", "iifname \"kilntap*\" meta nfproto ipv6 drop");
            assertThat(rules.split("chain input", -1)).as("the rules are added once, however often asked").hasSize(2);
        }
    }

    @Test
    void enginesOfOneProcessPrepareTheSameHostAtOnce() throws Exception {
        try (NetworkLab lab = NetworkLab.create()) {
            String ns = lab.hostNamespace();
            Path lock = state.resolve("nft.lock");
            // As a test's host and a benchmark's second engine do: the shared rules, asked for side by side.
            List<java.util.concurrent.CompletableFuture<Void>> preparing = new java.util.ArrayList<>();
            for (int i = 0; i < 8; i++) {
                Firewall firewall = new Firewall(ns, Cidr.parse("10.201.0.0/24"), List.of(), lock);
                preparing.add(java.util.concurrent.CompletableFuture.runAsync(firewall::ensureBaseRules,
                        step -> Thread.ofVirtual().start(step)));
            }
            for (var each : preparing) {
                each.get();
            }
            assertThat(nft(ns, "list table inet kiln").split("chain input", -1)).hasSize(2);
        }
    }

    private static String nft(String ns, String command) {
        List<String> argv = new java.util.ArrayList<>(List.of("nft"));
        argv.addAll(List.of(command.split(" ")));
        return HostCommand.run(HostCommand.inNamespace(ns, argv));
    }
}
