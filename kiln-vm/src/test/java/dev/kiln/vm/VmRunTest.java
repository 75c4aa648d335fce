package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.images.ImageStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Real VMs under TCG: output, exit codes, deadlines and sizes, and nothing left afterwards. */
@Tag("vm")
@Timeout(180)
class VmRunTest {
    @RegisterExtension
    static final TestHost host = new TestHost("default");

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 42})
    void outputAndExitCodeComeBack(int code) {
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec("sh", "-c",
                "echo \"out $(id -un) $1\"; echo \"err $1\" >&2; exit $1", "job", Integer.toString(code)), output);

        assertThat(result.outcome()).as(result.detail()).isEqualTo(VmResult.Outcome.EXITED);
        assertThat(result.exitCode()).hasValue(code);
        assertThat(output.stdout()).isEqualTo("out runner " + code + "\n");
        assertThat(output.stderr()).isEqualTo("err " + code + "\n");
    }

    @Test
    void theImageBootsKilnsKernelWithNoInitrdAndNoModules() {
        assertThat(host.image.kernel().source()).as("the default image's kernel").isEqualTo("kiln");
        assertThat(host.image.hasInitrd()).isFalse();
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec("sh", "-c",
                "uname -r; [ -e /proc/modules ] && echo modules || echo no modules;"
                        + " cat /proc/cmdline; findmnt -no FSTYPE /; cat /sys/block/vda/queue/read_ahead_kb"), output);

        assertThat(result.exitCode()).as(result.detail()).hasValue(0);
        List<String> lines = output.stdout().lines().toList();
        assertThat(lines.get(0)).isEqualTo(host.image.kernelVersion()).endsWith("-kiln");
        assertThat(lines.get(1)).isEqualTo("no modules");
        assertThat(lines.get(2)).contains("root=/dev/vda", "init=/sbin/kiln-root").doesNotContain("initrd");
        assertThat(lines.get(3)).isEqualTo("overlay");
        assertThat(lines.get(4)).as("the root disk's read-ahead, which speeds loading big programs").isEqualTo("4096");
        // The guest marked its boot's phases before the command started.
        assertThat(output.phases()).containsExactly("init", "network");
    }

    @Test
    void argumentsReachTheCommandUnchanged() {
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec("printf", "[%s]\\n", "two words", "it's", "$HOME", "*"), output);

        assertThat(result.exitCode()).hasValue(0);
        assertThat(output.stdout()).isEqualTo("[two words]\n[it's]\n[$HOME]\n[*]\n");
    }

    @Test
    void theCommandGetsItsEnvironmentExactlyAndNothingOfTheConfig() {
        var output = new TestHost.Output();
        Map<String, String> env = Map.of("QUOTED", "it's \"quoted\" $HOME \\ *", "LINES", "one\ntwo", "EMPTY", "",
                "EQUALS", "a=b", "PATH", "/usr/bin:/bin:/opt/job");
        VmResult result = host.engine.run(new VmSpec(VmEngine.newVmId(), host.image, 1, 512, 2, Duration.ofMinutes(1),
                List.of("sh", "-c", """
                        printf '[%s]\\n' "$QUOTED" "$LINES" "$EMPTY" "$EQUALS" "$PATH" "$HOME" "$USER" "$(pwd)"
                        env | grep -c '^KILN' || true
                        cat /run/kiln/cfg/job.env 2>/dev/null || echo "config unreadable"
                        id -un; id -gn
                        """), env, true), output);

        assertThat(result.exitCode()).as(result.detail() + " / " + output.stderr()).hasValue(0);
        assertThat(output.stdout()).isEqualTo("""
                [it's "quoted" $HOME \\ *]
                [one
                two]
                []
                [a=b]
                [/usr/bin:/bin:/opt/job]
                [/home/runner]
                [runner]
                [/run/kiln/scratch/work]
                0
                config unreadable
                runner
                runner
                """);
    }

    @Test
    void aCommandThatIsNotThereExitsWith127AndSaysSo() {
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec("no-such-program", "arg"), output);

        assertThat(result.exitCode()).as(result.detail()).hasValue(127);
        assertThat(output.stderr()).contains("no-such-program").contains("not found");
    }

    @Test
    void busyboxWgetResolvesAndFailsCleanly() {
        // busybox-static looks names up through glibc's NSS, which a static binary loads at run time: a
        // mismatch with the image's libraries crashes it (139) instead of reporting the refused connection.
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec("sh", "-c",
                "busybox wget -q -O /dev/null http://localhost:1/; echo \"rc=$?\""), output);

        assertThat(result.exitCode()).as(result.detail()).hasValue(0);
        assertThat(output.stdout()).isEqualTo("rc=1\n");
        assertThat(output.stderr()).contains("can't connect to remote host (127.0.0.1): Connection refused");
    }

    @Test
    void aCommandPastItsDeadlineIsKilled() {
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec(1, 512, Duration.ofSeconds(3), "sh", "-c", "echo started; sleep 600"),
                output);

        assertThat(result.outcome()).isEqualTo(VmResult.Outcome.DEADLINE_EXCEEDED);
        assertThat(result.exitCode()).isEmpty();
        assertThat(result.detail()).contains("deadline of 3s");
        assertThat(output.stdout()).isEqualTo("started\n");
        assertThat(result.timings().run()).isLessThan(Duration.ofSeconds(60));
    }

    @Test
    void theGuestSeesTheCpusAndMemoryItAskedFor() {
        var output = new TestHost.Output();
        VmResult result = host.engine.run(host.spec(2, 768, Duration.ofMinutes(2), "sh", "-c",
                "nproc; awk '/MemTotal/ {print $2}' /proc/meminfo; sudo -n id -u"), output);

        assertThat(result.exitCode()).as(result.detail()).hasValue(0);
        List<String> lines = output.stdout().lines().toList();
        assertThat(lines.get(0)).isEqualTo("2");
        long memTotalKib = Long.parseLong(lines.get(1));
        // The kernel keeps some of the RAM for itself: what the guest sees is a little under 768 MiB.
        assertThat(memTotalKib).isBetween(640L * 1024, 768L * 1024);
        assertThat(lines.get(2)).as("passwordless sudo as runner").isEqualTo("0");
    }

    @Test
    void aKernelPanicIsACrashNotAnExitCode() throws Exception {
        var output = new TestHost.Output();
        // QEMU ends with status 0 after a panic, like after a clean power-off: only the marker tells.
        VmResult result = host.engine.run(host.spec("sh", "-c", "echo before; sudo -n sh -c 'echo c > /proc/sysrq-trigger'"),
                output);

        assertThat(result.outcome()).isEqualTo(VmResult.Outcome.GUEST_CRASHED);
        assertThat(result.exitCode()).isEmpty();
        assertThat(result.detail()).contains("without reporting an exit code");
        assertThat(output.stdout()).startsWith("before\n");
        // The panic's trace is in the whole console, kept after the VM's directory is gone, for root alone.
        java.nio.file.Path kept = host.config.stateDir().resolve("crashes").resolve(result.vmId() + ".console.log");
        assertThat(result.detail()).contains(kept.toString());
        assertThat(kept).content(java.nio.charset.StandardCharsets.ISO_8859_1).contains("sysrq: Trigger a crash")
                .contains("Kernel panic");
        assertThat(java.nio.file.Files.getPosixFilePermissions(kept))
                .isEqualTo(java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    }

    @Test
    void aGuestThatDoesNotBootInTimeIsKilledAndReported() {
        EngineConfig impatient = new EngineConfig(host.config.stateDir(), host.config.vmmUser(), host.config.netns(),
                host.config.vmNetwork(), host.config.dns(), host.config.egressAllowList(), Duration.ofMillis(300),
                EngineConfig.Accelerator.TCG);
        VmEngine engine = new VmEngine(impatient, new QemuDriver(), new ImageStore(host.state.resolve("images")),
                HostInfo.read(), java.time.Clock.systemUTC());

        VmResult result = engine.run(host.spec("true"), GuestOutput.DISCARD);

        assertThat(result.outcome()).isEqualTo(VmResult.Outcome.BOOT_FAILED);
        // On a loaded machine (CI's two cores) the boot deadline moves on up to BootPatience.BUSY_FACTOR times,
        // and the failure then says the host was busy rather than blaming the guest.
        assertThat(result.detail()).containsPattern(
                "^the guest printed no init marker within (0\\.3s \\(|[0-9.]+m?s on a busy host \\(load )");
    }

    @Test
    void moreMemoryThanTheHostHasIsRefusedBeforeAnythingIsMade() {
        HostInfo small = new HostInfo(2, 4096, OptionalLong.empty());
        VmSpec spec = new VmSpec("vm-big", host.image, 1, 8192, 2, Duration.ofMinutes(1), List.of("true"), Map.of(), true);

        assertThatThrownBy(() -> VmEngine.checkFits(small, spec))
                .isInstanceOf(KilnException.class)
                .hasMessageContaining("8192 MiB").hasMessageContaining("4096 MiB")
                .satisfies(e -> assertThat(((KilnException) e).code()).isEqualTo(ErrorCode.INSUFFICIENT_CAPACITY));
        assertThatThrownBy(() -> VmEngine.checkFits(small, new VmSpec("vm-wide", host.image, 3, 512, 2,
                Duration.ofMinutes(1), List.of("true"), Map.of(), true)))
                .hasMessageContaining("3 vCPUs").hasMessageContaining("2 CPUs");
    }

    @Test
    void anUnknownImageIsAClearError() {
        assertThatThrownBy(() -> new ImageStore(TestHost.IMAGES).resolve("no-such-image"))
                .isInstanceOf(KilnException.class)
                .hasMessageContaining("no image 'no-such-image'")
                .hasMessageContaining("kiln image build")
                .satisfies(e -> assertThat(((KilnException) e).code()).isEqualTo(ErrorCode.IMAGE_NOT_FOUND));
    }
}
