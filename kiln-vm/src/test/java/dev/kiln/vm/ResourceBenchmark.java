package dev.kiln.vm;

import dev.kiln.testkit.Leftovers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Benchmark, not a test (run by bench/vm/run.sh): time to make and to remove one VM's host
 * resources (CoW disk, config drive, cgroup, tap, firewall rules, journal), without booting it.
 */
public final class ResourceBenchmark {
    private ResourceBenchmark() {}

    public static void main(String[] args) throws Exception {
        int iterations = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        try (TestHost host = TestHost.started("default")) {
            VmResources resources = new VmResources(host.config, Cgroups.detect());
            resources.prepareHost();
            List<Long> create = new ArrayList<>();
            List<Long> destroy = new ArrayList<>();
            for (int i = 0; i < iterations + 5; i++) {
                VmSpec spec = host.spec("true");
                long start = System.nanoTime();
                VmResources.Provisioned vm = resources.provision(spec, network -> new GuestConfig(spec.vmId(),
                        "kiln-bench", "nonce", network, spec.command(), Map.of(), 60), true);
                long made = System.nanoTime();
                resources.release(vm);
                long removed = System.nanoTime();
                if (i >= 5) { // the first few warm up the JIT and the page cache
                    create.add(made - start);
                    destroy.add(removed - made);
                }
            }
            List<String> left = Leftovers.find(host.state, host.lab.hostNamespace(), host.vmIds);
            if (!left.isEmpty()) {
                throw new AssertionError("the benchmark left resources behind: " + left);
            }
            System.out.printf("| create | %.1f | %.1f | %.1f |%n", ms(percentile(create, 50)), ms(percentile(create, 90)),
                    ms(Collections.max(create)));
            System.out.printf("| destroy | %.1f | %.1f | %.1f |%n", ms(percentile(destroy, 50)),
                    ms(percentile(destroy, 90)), ms(Collections.max(destroy)));
            List<Long> total = new ArrayList<>();
            for (int i = 0; i < create.size(); i++) {
                total.add(create.get(i) + destroy.get(i));
            }
            System.out.printf("| create + destroy | %.1f | %.1f | %.1f |%n", ms(percentile(total, 50)),
                    ms(percentile(total, 90)), ms(Collections.max(total)));
            host.engine.stopAll(Duration.ofSeconds(5));
        }
    }

    private static long percentile(List<Long> values, int p) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(Math.min(sorted.size() - 1, (int) Math.ceil(p / 100.0 * sorted.size()) - 1));
    }

    private static double ms(long nanos) {
        return nanos / 1e6;
    }
}
