package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.kiln.testkit.Leftovers;
import dev.kiln.testkit.TestStateDir;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Many `kiln run`s on one host, through the CLI in processes of their own: starting at once, from two
 * state directories side by side, and killed (`kill -9`) with their VMs still running.
 */
@Tag("vm")
@Timeout(600)
class HostSharingTest {
    private static final String VM_NETWORK = "10.202.0.0/24";
    /** Readers of child processes block: never on the common pool, which has a single worker on a 2-core machine. */
    private static final Executor READERS = Executors.newVirtualThreadPerTaskExecutor();

    @RegisterExtension
    final VmHost host = new VmHost();

    private Process kiln(Path state, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-Xmx128m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"), "dev.kiln.cli.Kiln"));
        command.add(args[0]);
        command.addAll(List.of("--state-dir", state.toString(), "--netns", host.namespace(), "--vm-network",
                VM_NETWORK, "--accel", "tcg"));
        command.addAll(List.of(args).subList(1, args.length));
        return new ProcessBuilder(command).start();
    }

    record Outcome(int code, String out, String err) {}

    private static Outcome finish(Process process) throws Exception {
        var out = CompletableFuture.supplyAsync(() -> read(process.getInputStream()), READERS);
        var err = CompletableFuture.supplyAsync(() -> read(process.getErrorStream()), READERS);
        assertThat(process.waitFor(300, TimeUnit.SECONDS)).as("kiln finished").isTrue();
        return new Outcome(process.exitValue(), out.get(), err.get());
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts a VM whose command prints "started" and sleeps; returns once it printed it. */
    private Process startLongVm(Path state, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("run"));
        args.addAll(List.of(flags));
        args.addAll(List.of("--", "sh", "-c", "echo started; sleep 600"));
        Process kiln = kiln(state, args.toArray(String[]::new));
        var reader = new BufferedReader(new InputStreamReader(kiln.getInputStream(), StandardCharsets.UTF_8));
        String line = CompletableFuture.supplyAsync(() -> {
            try {
                return reader.readLine();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, READERS).get(240, TimeUnit.SECONDS);
        assertThat(line).as("the long VM's first line").isEqualTo("started");
        return kiln;
    }

    private static List<String> vmIds(Path state) throws IOException {
        try (var dirs = Files.list(state.resolve("vms"))) {
            return dirs.map(p -> p.getFileName().toString()).toList();
        }
    }

    @Test
    void startsAtOnceAllRunAndNoVmIsVisibleBeforeItIsLocked() throws Exception {
        Path vms = Files.createDirectories(host.state().resolve("vms"));
        List<String> seen = new CopyOnWriteArrayList<>();
        try (WatchService watch = FileSystems.getDefault().newWatchService()) {
            vms.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            Thread watcher = Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        WatchKey key = watch.take();
                        key.pollEvents().forEach(event -> seen.add(event.context().toString()));
                        key.reset();
                    }
                } catch (InterruptedException | java.nio.file.ClosedWatchServiceException done) {
                    // the test is over
                }
            });
            List<Process> runs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                runs.add(kiln(host.state(), "run", "--memory", "256m", "--", "echo", "run " + i));
            }
            // All awaited before any is judged: a failed assertion must not leave runs going as the lab goes.
            List<Outcome> outcomes = new ArrayList<>();
            for (Process run : runs) {
                outcomes.add(finish(run));
            }
            for (int i = 0; i < outcomes.size(); i++) {
                assertThat(outcomes.get(i).code()).as("run %d: %s", i, outcomes.get(i).err()).isZero();
                assertThat(outcomes.get(i).out()).isEqualTo("run " + i + "\n");
            }
            watcher.interrupt();
        }
        // A VM's folder comes into the VMs folder whole and locked (moved there): a `.new-` folder showing
        // there was one that another Kiln starting at that moment could take for a dead VM's and remove.
        assertThat(seen).as("folders that appeared in %s", vms).hasSize(6).allMatch(name -> name.startsWith("vm-"));
        assertThat(Leftovers.find(host.state(), host.namespace(), seen)).isEmpty();
    }

    @Test
    void twoStateDirectoriesKeepEachOthersVmsOnTheirNetwork() throws Exception {
        Process first = null;
        try (TestStateDir other = TestStateDir.withImages("default")) {
            first = startLongVm(host.state());
            String firstVm = vmIds(host.state()).getFirst();
            int slot = slot(host.state(), firstVm);
            // The guest's address: the second of its slot's /30.
            String address = "10.202.0." + (slot * 4 + 2);
            assertThat(networked(address, slot)).as("the first VM's network").isTrue();

            // The other state directory: a run that ends, one killed with its VM running, and the next
            // start, which removes what the killed one left.
            Outcome plain = finish(kiln(other.path(), "run", "--", "echo", "other"));
            assertThat(plain.code()).as(plain.err()).isZero();
            Process killed = startLongVm(other.path());
            List<String> otherVms = vmIds(other.path());
            killed.destroyForcibly().waitFor();
            Outcome next = finish(kiln(other.path(), "run", "--", "echo", "next"));
            assertThat(next.code()).as(next.err()).isZero();
            // What the namespace holds is the first VM's only (its slot, tap and chain).
            assertThat(Leftovers.find(other.path(), host.namespace(), otherVms)).as("the other's leftovers")
                    .allMatch(line -> line.endsWith("slots/" + slot) || line.contains("kilntap" + slot + ":")
                            || line.contains("\"kilntap" + slot + "\"") || line.endsWith("chain vm" + slot));

            assertThat(networked(address, slot)).as("the first VM's network after the other's runs and clean-up")
                    .isTrue();
            new ProcessBuilder("kill", "-INT", Long.toString(first.pid())).start().waitFor();
            assertThat(first.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(first.exitValue()).isEqualTo(ExitCodes.INTERRUPTED);
            assertThat(Leftovers.find(host.state(), host.namespace(), List.of(firstVm))).isEmpty();
        } finally {
            if (first != null && first.isAlive()) {
                // A failed assertion: stop the first VM (Ctrl-C removes what it had) before the lab goes.
                new ProcessBuilder("kill", "-INT", Long.toString(first.pid())).start().waitFor();
                first.waitFor(60, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The VM's network as the host sees it: the route to its address goes through its tap (not the
     * default route off the host), its tap and its firewall chain are there, and the guest answers a ping.
     */
    private boolean networked(String address, int slot) throws Exception {
        Process ping = new ProcessBuilder("ip", "netns", "exec", host.namespace(), "busybox", "ping", "-c", "1", "-W",
                "3", address).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return ping.waitFor(10, TimeUnit.SECONDS) && ping.exitValue() == 0 && run("ip", "-n", host.namespace(), "route", "get", address).contains("dev kilntap" + slot + " ")
                && run("ip", "-n", host.namespace(), "link", "show", "kilntap" + slot).contains("state UP")
                && run("ip", "netns", "exec", host.namespace(), "nft", "list", "table", "inet", "kiln")
                        .contains("\"kilntap" + slot + "\" : jump vm" + slot);
    }

    private static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = read(process.getInputStream());
        process.waitFor(10, TimeUnit.SECONDS);
        return output;
    }

    /** The VM's address slot, from its journal. */
    private static int slot(Path state, String vmId) throws IOException {
        return Files.readAllLines(state.resolve("vms").resolve(vmId).resolve("journal")).stream()
                .filter(line -> line.startsWith("SLOT ")).map(line -> Integer.parseInt(line.substring(5).strip()))
                .findFirst().orElseThrow();
    }

    @Test
    void anOrphanedVmStopsAtItsDeadlineWithNoKilnAlive() throws Exception {
        Process kiln = startLongVm(host.state(), "--timeout", "15s");
        List<String> vmIds = vmIds(host.state());
        kiln.destroyForcibly().waitFor();
        assertThat(vmmProcesses(vmIds)).as("the VM runs on after its Kiln died").isNotEmpty();

        // Its deadline is 15 s after it booted (plus a 5 s grace for a living Kiln to act first).
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(1))
                .until(() -> vmmProcesses(vmIds).isEmpty());

        Outcome next = finish(kiln(host.state(), "run", "--", "true"));
        assertThat(next.code()).as(next.err()).isZero();
        assertThat(Leftovers.find(host.state(), host.namespace(), vmIds)).isEmpty();
    }

    private List<String> vmmProcesses(List<String> vmIds) {
        return Leftovers.find(host.state(), host.namespace(), vmIds).stream()
                .filter(line -> line.startsWith("process ")).toList();
    }

    @Test
    void aDiskBeyondTheFreeSpaceIsRefusedAndOddSizedTemplatesDoNotStay() throws Exception {
        Outcome huge = finish(kiln(host.state(), "run", "--disk", "5000g", "--", "true"));
        assertThat(huge.code()).as(huge.err()).isEqualTo(ExitCodes.CAPACITY);
        assertThat(huge.err()).contains("--disk 5000 GiB").contains("GiB free");
        assertThat(host.state().resolve("scratch").resolve("ext4-5000g.img")).doesNotExist();

        Outcome odd = finish(kiln(host.state(), "run", "--disk", "3g", "--", "true"));
        assertThat(odd.code()).as(odd.err()).isZero();
        assertThat(host.state().resolve("scratch").resolve("ext4-3g.img")).as("the 3 GiB template").doesNotExist();
        assertThat(host.state().resolve("scratch").resolve("overlay-3g.qcow2")).doesNotExist();
    }

    @Test
    void theCommandsOwnExitCodesAreNotKilns() throws Exception {
        Outcome notExecutable = finish(kiln(host.state(), "run", "--", "sh", "-c", "exit 126"));
        assertThat(notExecutable.code()).as(notExecutable.err()).isEqualTo(126);
        Outcome notFound = finish(kiln(host.state(), "run", "--", "no-such-program"));
        assertThat(notFound.code()).as(notFound.err()).isEqualTo(127);

        Files.createDirectories(host.state().resolve("vms"));
        Outcome empty = finish(kiln(host.state(), "run", "--", ""));
        assertThat(empty.code()).isEqualTo(ExitCodes.USAGE);
        assertThat(empty.err()).contains("the command after -- is empty");
        Outcome noServer = finish(kiln(host.state(), "run", "--server", "http://127.0.0.1:1", "--token", "t", "--",
                "true"));
        assertThat(noServer.code()).as(noServer.err()).isEqualTo(ExitCodes.SERVER).isNotIn(126, 127);
        assertThat(vmIds(host.state())).as("VMs made for refused runs").isEmpty();
    }
}
