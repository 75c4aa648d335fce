package dev.kiln.vm;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Benchmark, not a test (run by bench/kernel/run.sh, which prepares the files it names): Kiln's
 * guest kernel against Debian's cloud kernel, Kiln's guest path against bare QEMU, Docker's start
 * on both kernels and in a minimal Docker guest, and a soak. Every time is on the host's clock, from
 * the VMM's start (or the engine's run) to a console line's arrival; the forms are interleaved.
 * Prints "key value" lines (medians in ms, counts) and "all key [values]" lines.
 */
public final class KernelBenchmark {
    /** The runner image on Kiln's kernel that the Docker rounds and the soak boot (bench/kernel/run.sh's RUNNER_IMAGE). */
    private static final String RUNNER_IMAGE = System.getProperty("kiln.bench.runnerImage", "runner-test");
    /** What a Docker job does first: import a busybox tarball and run it. */
    static final String DOCKER_SCRIPT = """
            echo dockerd-ready
            mkdir -p /tmp/rootfs/bin && cp /bin/busybox /tmp/rootfs/bin/ && ln -s busybox /tmp/rootfs/bin/true
            tar -C /tmp/rootfs -c . | docker import - bench:1 > /dev/null
            docker run --rm bench:1 true && echo docker-run-done
            """;

    private final Map<String, List<Long>> samples = new TreeMap<>();
    private final long tscKhz = HostInfo.read().tscKhz().orElse(0);

    private KernelBenchmark() {}

    public static void main(String[] args) throws Exception {
        KernelBenchmark bench = new KernelBenchmark();
        Path work = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        switch (args[0]) {
            case "boot" -> bench.boot(work, runs, Path.of(args[3]));
            case "docker" -> bench.docker(work, runs);
            case "soak" -> bench.soak(runs);
            case "script" -> {
                System.out.print(DOCKER_SCRIPT);
                return;
            }
            default -> throw new IllegalArgumentException("boot, docker, soak or script, not " + args[0]);
        }
        bench.print();
    }

    /**
     * The same busybox init (prints a line, powers off) on Kiln's kernel and on Debian's cloud kernel
     * with an initrd that loads virtio and ext4; and `kiln run -- true` on the default image.
     */
    private void boot(Path work, int runs, Path kiln) throws Exception {
        String common = "console=ttyS0 reboot=t panic=-1 quiet loglevel=3" + tsc();
        for (int i = 0; i < runs; i++) {
            Map<String, Long> own = qemu(work, 1, 1024, work.resolve("kiln-vmlinux"), null,
                    common + " root=/dev/vda ro rootfstype=ext4 init=/init", List.of(raw(work.resolve("tiny.ext4"), true)));
            add("kernel.kiln.init", required(own, "KILN-BENCH-INIT"));
            add("kernel.kiln.exit", required(own, "(exit)"));
            Map<String, Long> cloud = qemu(work, 1, 1024, work.resolve("cloud-vmlinuz"), work.resolve("cloud-initrd.img"),
                    common, List.of(raw(work.resolve("tiny.ext4"), true)));
            add("kernel.cloud.init", required(cloud, "KILN-BENCH-INIT"));
            add("kernel.cloud.exit", required(cloud, "(exit)"));
            long start = System.nanoTime();
            Process run = new ProcessBuilder(kiln.toString(), "run", "--", "true").inheritIO().start();
            if (run.waitFor() != 0) {
                throw new AssertionError("kiln run -- true exited with " + run.exitValue());
            }
            add("run.kiln", (System.nanoTime() - start) / 1_000_000);
        }
    }

    /**
     * The runner image on Kiln's kernel and on Debian's cloud kernel through Kiln's engine, and a
     * minimal Docker guest (Debian's docker.io only, an init that starts dockerd) by bare QEMU on Kiln's.
     */
    private void docker(Path work, int runs) throws Exception {
        try (TestHost own = TestHost.started(RUNNER_IMAGE); TestHost cloud = TestHost.started("runner-cloud")) {
            for (int i = 0; i < runs; i++) {
                engineDocker(own, "docker.kiln");
                engineDocker(cloud, "docker.cloud");
                Path rootOverlay = work.resolve("docker-min.qcow2");
                Path scratch = work.resolve("docker-scratch.qcow2");
                overlay(work.resolve("docker-min.ext4"), "raw", rootOverlay);
                overlay(Path.of("/var/lib/kiln/scratch/ext4-10g.img"), "raw", scratch);
                Map<String, Long> lines = qemu(work, 2, 2048, work.resolve("kiln-vmlinux"), null,
                        "console=ttyS0 reboot=t panic=-1 quiet loglevel=3 root=/dev/vda rw rootfstype=ext4 init=/init"
                                + tsc() + " cgroup.memory=nokmem",
                        List.of(qcow2(rootOverlay), qcow2(scratch)));
                add("docker.minimal.ready", required(lines, "dockerd-ready"));
                add("docker.minimal.run", required(lines, "docker-run-done"));
            }
        }
    }

    /** Boots the runner image again and again with a first `docker run`; counts what went wrong. */
    private void soak(int boots) {
        try (TestHost host = TestHost.started(RUNNER_IMAGE)) {
            Map<String, Integer> outcomes = new TreeMap<>();
            for (int i = 0; i < boots; i++) {
                var output = new TestHost.Output();
                VmSpec spec = new VmSpec(VmEngine.newVmId(), host.image, 2, 2048, 4, Duration.ofMinutes(3),
                        List.of("sh", "-c", DOCKER_SCRIPT), Map.of(), true);
                host.vmIds.add(spec.vmId());
                long start = System.nanoTime();
                VmResult result = host.engine.run(spec, output);
                long ms = (System.nanoTime() - start) / 1_000_000;
                String kind = switch (result.outcome()) {
                    case EXITED -> result.exitCode().orElse(-1) == 0 && output.stdout().contains("docker-run-done")
                            ? "ok" : "command-failed";
                    case BOOT_FAILED -> "no-ready-marker";
                    case GUEST_CRASHED -> "panic";
                    case DEADLINE_EXCEEDED -> "hang";
                    case CANCELLED -> "cancelled";
                };
                outcomes.merge(kind, 1, Integer::sum);
                if (kind.equals("ok")) {
                    add("soak.run", ms);
                } else {
                    System.err.printf("soak boot %d: %s (%s) %s%n", i, kind, result.detail(), output.stderr());
                }
            }
            for (String kind : List.of("ok", "command-failed", "no-ready-marker", "panic", "hang", "cancelled")) {
                System.out.printf("soak.%s %d%n", kind, outcomes.getOrDefault(kind, 0));
            }
        }
    }

    private void engineDocker(TestHost host, String key) {
        Map<String, Long> seen = new ConcurrentHashMap<>();
        long start = System.nanoTime();
        GuestOutput timing = new GuestOutput() {
            @Override
            public void phase(String name, Duration sinceStart, String guestUptime) {
                seen.putIfAbsent("phase." + name, (System.nanoTime() - start) / 1_000_000);
            }

            /** Output arrives in chunks that may end inside a line: a line counts from the chunk that completes it. */
            private final StringBuilder partial = new StringBuilder();

            @Override
            public synchronized void stdout(byte[] bytes, int offset, int length) {
                long now = (System.nanoTime() - start) / 1_000_000;
                partial.append(new String(bytes, offset, length, StandardCharsets.UTF_8));
                for (int end = partial.indexOf("\n"); end >= 0; end = partial.indexOf("\n")) {
                    seen.putIfAbsent(partial.substring(0, end).strip(), now);
                    partial.delete(0, end + 1);
                }
            }

            @Override
            public void stderr(byte[] bytes, int offset, int length) {}
        };
        VmSpec spec = new VmSpec(VmEngine.newVmId(), host.image, 2, 2048, 4, Duration.ofMinutes(5),
                List.of("sh", "-c", DOCKER_SCRIPT), Map.of(), true);
        host.vmIds.add(spec.vmId());
        VmResult result = host.engine.run(spec, timing);
        if (result.exitCode().orElse(-1) != 0) {
            throw new AssertionError("the Kiln VM on " + host.image.name() + " failed: " + result);
        }
        add(key + ".ready", required(seen, "dockerd-ready"));
        add(key + ".run", required(seen, "docker-run-done"));
        for (String phase : List.of("init", "network", "dockerd")) {
            add(key + ".phase." + phase, required(seen, "phase." + phase));
        }
    }

    private String tsc() {
        return tscKhz > 0 ? " tsc_early_khz=" + tscKhz : "";
    }

    private static String raw(Path file, boolean readOnly) {
        return "file=" + file + ",format=raw" + (readOnly ? ",readonly=on" : "");
    }

    private static String qcow2(Path file) {
        return "file=" + file + ",format=qcow2,discard=unmap";
    }

    private static void overlay(Path base, String format, Path overlay) throws IOException, InterruptedException {
        Files.deleteIfExists(overlay);
        Process img = new ProcessBuilder("qemu-img", "create", "-q", "-f", "qcow2", "-F", format, "-b", base.toString(),
                overlay.toString()).inheritIO().start();
        if (img.waitFor() != 0) {
            throw new IOException("qemu-img create over " + base + " failed");
        }
    }

    /** QEMU's microvm as Kiln's driver runs it, with these disks; console lines mapped to ms since start. */
    private static Map<String, Long> qemu(Path work, int cpus, int memoryMib, Path kernel, Path initrd, String cmdline,
            List<String> drives) throws IOException, InterruptedException {
        Path console = work.resolve("console.log");
        Files.deleteIfExists(console);
        List<String> argv = new ArrayList<>(List.of("qemu-system-x86_64",
                "-M", "microvm,x-option-roms=off,isa-serial=on,rtc=on",
                "-accel", "tcg,thread=multi,tb-size=" + QemuDriver.TCG_CACHE_MIB, "-cpu", "max",
                "-smp", Integer.toString(cpus), "-m", memoryMib + "M",
                "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
                "-kernel", kernel.toString(), "-append", cmdline,
                "-chardev", "file,id=console,path=" + console, "-serial", "chardev:console"));
        if (initrd != null) {
            argv.addAll(List.of("-initrd", initrd.toString()));
        }
        for (int i = 0; i < drives.size(); i++) {
            argv.addAll(List.of("-drive", "id=d" + i + ",if=none," + drives.get(i),
                    "-device", "virtio-blk-device,drive=d" + i));
        }
        long start = System.nanoTime();
        Process qemu = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(work.resolve("qemu.log").toFile()).start();
        return BareQemu.consoleLines(qemu, start, console, java.time.Duration.ofMinutes(3), kernel.toString());
    }

    private void add(String key, long ms) {
        samples.computeIfAbsent(key, k -> new ArrayList<>()).add(ms);
    }

    private void print() {
        samples.forEach((key, values) -> System.out.printf("%s %d%n", key, median(values)));
        samples.forEach((key, values) -> System.out.printf("all %s %s%n", key, values));
    }

    private static long required(Map<String, Long> lines, String line) {
        Long at = lines.get(line);
        if (at == null) {
            throw new AssertionError("no '" + line + "' in the guest's output: " + lines.keySet());
        }
        return at;
    }

    static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
