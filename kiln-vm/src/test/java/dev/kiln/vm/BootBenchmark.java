package dev.kiln.vm;

import dev.kiln.images.ImageStore;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * Benchmark, not a test (run by bench/vm/run.sh): a VM running `true` through a warm engine (as
 * in the agent, one JVM for many VMs) against the bare QEMU command the driver would run, with the
 * same kernel, initrd, root filesystem, disks and command line, interleaved in one run.
 */
public final class BootBenchmark {
    private BootBenchmark() {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 6;
        try (TestHost host = TestHost.started("default")) {
            // The bare guest gets the same kind of network: a tap (made once, outside the timing).
            String tap = "kilnbench0";
            new TapDevices(host.lab.hostNamespace()).create(tap, "10.209.0.1", "root");
            BareQemu bareQemu = new BareQemu(Files.createTempDirectory(host.state, "bare-"), host.config.scratchDir(),
                    new ImageStore(TestHost.IMAGES).directory(host.image));
            List<Long> bare = new ArrayList<>();
            List<Long> kiln = new ArrayList<>();
            for (int i = 0; i < runs + 1; i++) {
                Map<String, Long> bareRun = bareQemu.run(1, 1024, 2, List.of("true"), host.lab.hostNamespace(), tap);
                if (!bareRun.containsKey("KILN-EXIT:n:0")) {
                    throw new AssertionError("the bare QEMU run did not report exit 0: " + bareRun.keySet());
                }
                long bareMs = bareRun.get("(exit)");
                long start = System.nanoTime();
                VmSpec spec = host.spec(1, 1024, java.time.Duration.ofMinutes(2), "true");
                VmResult result = host.engine.run(spec,
                        GuestOutput.DISCARD);
                long kilnMs = (System.nanoTime() - start) / 1_000_000;
                if (result.exitCode().orElse(-1) != 0) {
                    throw new AssertionError("the Kiln VM did not exit 0: " + result);
                }
                if (i > 0) { // the first pair warms the page cache and the JIT
                    bare.add(bareMs);
                    kiln.add(kilnMs);
                }
            }
            System.out.printf("%d %d %s %s%n", median(bare), median(kiln), bare, kiln);
        }
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
