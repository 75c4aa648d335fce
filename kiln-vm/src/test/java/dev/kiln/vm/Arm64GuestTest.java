package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.Arch;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An arm64 guest on QEMU's virt machine (TCG on an x86_64 host) under the same contract as x86_64 guests: the
 * command's output on two streams and its exit code, an aarch64 kernel and user land, Docker running at boot.
 * The runner image's arm64 build with the stand-in runner (bin/test builds it as runner-test-arm64).
 */
@Tag("vm")
@Timeout(600)
class Arm64GuestTest {
    @RegisterExtension
    static final TestHost host = new TestHost("runner-test-arm64");

    private static VmSpec spec(String script) {
        return host.spec(2, 2048, Duration.ofMinutes(8), "bash", "-c", script);
    }

    @Test
    void aCommandRunsOnAarch64WithItsOutputAndExitCode() {
        assertThat(host.image.architecture()).isEqualTo(Arch.ARM64);
        var output = new TestHost.Output();

        VmResult result = host.engine.run(spec("uname -m; dpkg --print-architecture; echo to-stderr >&2; exit 7"), output);

        assertThat(result.outcome()).as(result.detail()).isEqualTo(VmResult.Outcome.EXITED);
        assertThat(result.exitCode()).hasValue(7);
        // Byte for byte, as on x86_64: no carriage returns from a tty on either line.
        assertThat(output.stdout()).isEqualTo("aarch64\narm64\n");
        assertThat(output.stderr()).isEqualTo("to-stderr\n");
        host.assertNothingLeft();
    }

    @Test
    void dockerIsRunningAndRunsAnImportedArm64Image() {
        var output = new TestHost.Output();

        // No registry here: the image is imported from the guest's own (arm64, static) busybox.
        VmResult result = host.engine.run(spec("""
                docker info --format '{{.Architecture}} {{.OSType}}'
                tar -C / -c bin/busybox | docker import - kiln/busybox-arm64 > /dev/null
                docker run --rm kiln/busybox-arm64 /bin/busybox uname -m
                docker image inspect --format '{{.Architecture}}' kiln/busybox-arm64
                """), output);

        assertThat(result.exitCode()).as(result.detail() + "\n" + output.stderr()).hasValue(0);
        assertThat(output.stdout().lines()).containsExactly("aarch64 linux", "aarch64", "arm64");
        host.assertNothingLeft();
    }
}
