package dev.kiln.vm;

import dev.kiln.images.ImageStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Benchmark, not a test (run by bench/runner/run.sh): in the runner image, time from VM start to
 * dockerd answering and to a first `docker run` done, through Kiln's engine and through the bare
 * QEMU command, interleaved in one run. Times are taken on the host as the lines arrive.
 */
public final class DockerBenchmark {
    private static final String SCRIPT = """
            echo dockerd-ready
            mkdir -p /tmp/rootfs/bin && cp /bin/busybox /tmp/rootfs/bin/ && ln -s busybox /tmp/rootfs/bin/true
            tar -C /tmp/rootfs -c . | docker import - bench:1 > /dev/null
            docker run --rm bench:1 true && echo docker-run-done
            """;

    private DockerBenchmark() {}

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        String image = args.length > 1 ? args[1] : "runner-test";
        try (TestHost host = TestHost.started(image)) {
            BareQemu bare = new BareQemu(Files.createTempDirectory(host.state, "bare-"), host.config.scratchDir(),
                    new ImageStore(TestHost.IMAGES).directory(host.image));
            List<Long> bareReady = new ArrayList<>();
            List<Long> bareRun = new ArrayList<>();
            List<Long> kilnReady = new ArrayList<>();
            List<Long> kilnRun = new ArrayList<>();
            for (int i = 0; i < runs; i++) {
                // The bare guest runs the same init: it too waits for dockerd before the command starts.
                Map<String, Long> lines = bare.run(2, 2048, 4, List.of("sh", "-c", SCRIPT));
                bareReady.add(required(lines, "dockerd-ready"));
                bareRun.add(required(lines, "docker-run-done"));

                Map<String, Long> seen = new ConcurrentHashMap<>();
                long start = System.nanoTime();
                GuestOutput timing = new GuestOutput() {
                    @Override
                    public void stdout(byte[] bytes, int offset, int length) {
                        long now = (System.nanoTime() - start) / 1_000_000;
                        new String(bytes, offset, length, StandardCharsets.UTF_8).lines()
                                .forEach(line -> seen.putIfAbsent(line, now));
                    }

                    @Override
                    public void stderr(byte[] bytes, int offset, int length) {}
                };
                VmSpec spec = new VmSpec(VmEngine.newVmId(), host.image, 2, 2048, 4, Duration.ofMinutes(5),
                        List.of("sh", "-c", SCRIPT), Map.of(), true);
                host.vmIds.add(spec.vmId());
                VmResult result = host.engine.run(spec, timing);
                if (result.exitCode().orElse(-1) != 0) {
                    throw new AssertionError("the Kiln VM failed: " + result);
                }
                kilnReady.add(required(seen, "dockerd-ready"));
                kilnRun.add(required(seen, "docker-run-done"));
            }
            System.out.printf("%d %d %d %d%n", median(bareReady), median(kilnReady), median(bareRun), median(kilnRun));
            System.out.printf("bare ready %s run %s; kiln ready %s run %s%n", bareReady, bareRun, kilnReady, kilnRun);
        }
    }

    private static long required(Map<String, Long> lines, String line) {
        Long at = lines.get(line);
        if (at == null) {
            throw new AssertionError("no '" + line + "' in the guest's output: " + lines.keySet());
        }
        return at;
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
