package dev.kiln.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.api.VmLaunch;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class LaunchArchTest {
    private static final Capacity X86 = new Capacity(Arch.X86_64, 4, 8192, 100);
    private static final Capacity X86_EMULATING_ARM = new Capacity(Arch.X86_64, 4, 8192, 100, Set.of(Arch.ARM64));

    private static VmLaunch launch(String arch) {
        return new VmLaunch("vm-1", "job-1", "sha256:" + "a".repeat(64), 1, 1024, 2, List.of("true"), Map.of(), 60,
                null, arch);
    }

    @Test
    void aLaunchRunsItsArchWhereTheHostRunsIt() {
        assertThat(LaunchArch.of(launch("x86_64"), X86)).isEqualTo(Arch.X86_64);
        assertThat(LaunchArch.of(launch("arm64"), X86_EMULATING_ARM)).isEqualTo(Arch.ARM64);
        // A server older than the field names no arch: the host's own.
        assertThat(LaunchArch.of(launch(null), X86_EMULATING_ARM)).isEqualTo(Arch.X86_64);
    }

    @Test
    void anArchTheHostDoesNotRunIsRefusedNamingTheFlag() {
        assertThatThrownBy(() -> LaunchArch.of(launch("arm64"), X86)).isInstanceOfSatisfying(KilnException.class, e -> {
            assertThat(e.code()).isEqualTo(ErrorCode.INSUFFICIENT_CAPACITY);
            assertThat(e.getMessage()).contains("x86_64 host does not run arm64", "--emulate arm64");
        });
        assertThatThrownBy(() -> LaunchArch.of(launch("any"), X86)).isInstanceOfSatisfying(KilnException.class,
                e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT));
        assertThatThrownBy(() -> LaunchArch.of(launch("sparc"), X86)).hasMessageContaining("'sparc'");
    }
}
