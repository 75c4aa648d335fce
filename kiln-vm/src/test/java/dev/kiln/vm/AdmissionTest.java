package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageStore;
import java.nio.file.Files;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Admission through the host-wide ledger: on a host of 1 CPU (2 vCPUs with over-commit), two 1-vCPU VMs
 * are admitted and boot; a third is refused at once when asked not to wait, or waits (saying why) and
 * boots when one of the first two ends. Two engines, as two Kiln processes would be: the ledger, not
 * an engine, knows what the host holds.
 */
@Tag("vm")
@Timeout(600)
class AdmissionTest {
    @RegisterExtension
    static final TestHost host = new TestHost("default");

    /** A thread per VM: the common pool has one thread on a 2-core host, and these runs block. */
    private final java.util.concurrent.ExecutorService threads =
            java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

    @Test
    void overAskingRunsWaitOrAreRefusedWhileAdmittedOnesBoot() throws Exception {
        HostInfo oneCpu = new HostInfo(1, 4096, HostInfo.read().tscKhz());
        VmEngine first = new VmEngine(host.config, new QemuDriver(), new ImageStore(host.state.resolve("images")),
                oneCpu, Clock.systemUTC());
        VmEngine second = new VmEngine(host.config, new QemuDriver(), new ImageStore(host.state.resolve("images")),
                oneCpu, Clock.systemUTC());
        try {
            admitsWhatFits(first, second);
        } finally {
            // A failed assertion must not leave these engines' VMs running past the test.
            first.stopAll(Duration.ofSeconds(60));
            second.stopAll(Duration.ofSeconds(60));
        }
    }

    private static String describe(CompletableFuture<VmResult> run) {
        if (!run.isDone()) {
            return "running";
        }
        try {
            VmResult result = run.get();
            return result.outcome() + " (" + result.detail() + ")";
        } catch (Exception e) {
            return "failed: " + e.getCause();
        }
    }

    private void admitsWhatFits(VmEngine first, VmEngine second) throws Exception {
        VmSpec a = host.spec("sh", "-c", "echo up; sleep 600");
        VmSpec b = host.spec("sh", "-c", "echo up; sleep 600");
        var outA = new TestHost.Output();
        var outB = new TestHost.Output();
        CompletableFuture<VmResult> runA = CompletableFuture.supplyAsync(() -> first.run(a, outA), threads);
        CompletableFuture<VmResult> runB = CompletableFuture.supplyAsync(() -> second.run(b, outB), threads);
        try {
            await().atMost(Duration.ofSeconds(240)).failFast("a VM ended", () -> runA.isDone() || runB.isDone())
                    .until(() -> outA.stdout().equals("up\n") && outB.stdout().equals("up\n"));
        } catch (org.awaitility.core.ConditionTimeoutException | org.awaitility.core.TerminalFailureException e) {
            throw new AssertionError("A said %s, waited %s, %s; B said %s, waited %s, %s".formatted(outA.stdout(),
                    outA.waits(), describe(runA), outB.stdout(), outB.waits(), describe(runB)), e);
        }

        VmSpec refused = host.spec("true");
        assertThatThrownBy(() -> second.run(refused, GuestOutput.DISCARD, false))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code())
                        .isEqualTo(ErrorCode.INSUFFICIENT_CAPACITY))
                .hasMessageContaining("does not fit on this host now").hasMessageContaining("hold 2 of 2 vCPUs");
        assertThat(host.state.resolve("vms").resolve(refused.vmId())).doesNotExist();

        VmSpec waiting = host.spec("echo", "admitted");
        List<String> said = new CopyOnWriteArrayList<>();
        var collected = new TestHost.Output();
        var outWaiting = new GuestOutput() {
            @Override
            public void waiting(String message) {
                said.add(message);
            }

            @Override
            public void stdout(byte[] bytes, int offset, int length) {
                collected.stdout(bytes, offset, length);
            }

            @Override
            public void stderr(byte[] bytes, int offset, int length) {
                collected.stderr(bytes, offset, length);
            }
        };
        CompletableFuture<VmResult> runWaiting = CompletableFuture.supplyAsync(() -> first.run(waiting, outWaiting), threads);
        await().atMost(Duration.ofSeconds(30)).until(() -> !said.isEmpty());
        assertThat(said.getFirst()).contains("waiting for room for VM " + waiting.vmId()).contains("2 of 2 vCPUs");
        assertThat(host.state.resolve("vms").resolve(waiting.vmId())).as("made while it waits").doesNotExist();

        second.cancel(b.vmId());
        assertThat(runB.get().outcome()).isEqualTo(VmResult.Outcome.CANCELLED);
        VmResult admitted = runWaiting.get();
        assertThat(admitted.outcome()).as(admitted.detail()).isEqualTo(VmResult.Outcome.EXITED);
        assertThat(collected.stdout()).isEqualTo("admitted\n");
        assertThat(runA.isDone()).as("the first VM runs on").isFalse();
        first.cancel(a.vmId());
        assertThat(runA.get().outcome()).isEqualTo(VmResult.Outcome.CANCELLED);

        try (var entries = Files.list(host.config.ledgerDir())) {
            assertThat(entries.map(p -> p.getFileName().toString()))
                    .as("ledger entries left").doesNotContainAnyElementsOf(host.vmIds);
        }
    }
}
