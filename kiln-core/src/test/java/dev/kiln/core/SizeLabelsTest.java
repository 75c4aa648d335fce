package dev.kiln.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SizeLabelsTest {
    private static final Size DEFAULT = Size.of(2, 8, 32, Arch.X86_64);
    private final SizeLabels labels = new SizeLabels("kiln", DEFAULT, 64, 256);

    @Test
    void bareLabelIsTheDefaultSize() {
        assertThat(labels.sizeOf(List.of("kiln"))).contains(DEFAULT);
    }

    @Test
    void cpuAndMemoryLabelTakesDiskAndArchFromTheDefault() {
        assertThat(labels.sizeOf(List.of("kiln-4cpu-8gb"))).contains(new Size(4, 8192, 32, Arch.X86_64));
    }

    @ParameterizedTest
    @CsvSource({
        "kiln-arm64-2cpu-4gb, 2, 4, arm64",
        "kiln-any-2cpu-4gb, 2, 4, any",
        "kiln-x86_64-16cpu-32gb, 16, 32, x86_64",
        "kiln-amd64-1cpu-1gb, 1, 1, x86_64",
        "kiln-aarch64-8cpu-16gb, 8, 16, arm64",
        "KILN-ARM64-4CPU-8GB, 4, 8, arm64",
        "kiln-04cpu-08gb, 4, 8, x86_64",
        "kiln-64cpu-256gb, 64, 256, x86_64",
    })
    void archCpuAndMemoryLabels(String label, int vcpus, long memoryGib, String arch) {
        assertThat(labels.sizeOf(List.of(label)))
                .contains(Size.of(vcpus, memoryGib, 32, Arch.parse(arch).orElseThrow()));
    }

    @Test
    void archAloneTakesTheDefaultSize() {
        assertThat(labels.sizeOf(List.of("kiln-arm64"))).contains(DEFAULT.withArch(Arch.ARM64));
        assertThat(labels.sizeOf(List.of("kiln-any"))).contains(DEFAULT.withArch(Arch.ANY));
    }

    @Test
    void otherLabelsAreIgnored() {
        assertThat(labels.sizeOf(List.of("self-hosted", "linux", "x64", "kiln-4cpu-8gb", "gpu")))
                .contains(Size.of(4, 8, 32, Arch.X86_64));
    }

    @Test
    void jobWithoutKilnLabelIsNotOurs() {
        assertThat(labels.sizeOf(List.of("self-hosted", "linux", "x64"))).isEmpty();
        assertThat(labels.sizeOf(List.of("ubuntu-latest"))).isEmpty();
        assertThat(labels.sizeOf(List.of("kilnx-4cpu-8gb", "kilnx", "buildjet-4vcpu-ubuntu-2204"))).isEmpty();
        assertThat(labels.sizeOf(List.of())).isEmpty();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
        "kiln-0cpu-8gb          | the vCPU count must be at least 1",
        "kiln-4cpu              | the memory is missing after '4cpu'",
        "kiln-arm64-4cpu        | the memory is missing after '4cpu'",
        "kiln-999cpu-1gb        | 999 vCPUs is more than the maximum of 64",
        "kiln-99999999999999999999cpu-1gb | is more than the maximum of 64",
        "kiln-4cpu-0gb          | the memory must be at least 1 GiB",
        "kiln-4cpu-999gb        | 999 GiB of memory is more than the maximum of 256 GiB",
        "kiln-4cpu-8gb-extra    | 'extra' follows the memory; nothing may",
        "kiln-arm64-4cpu-8gb-x-y | 'x-y' follows the memory; nothing may",
        "kiln-8gb-4cpu          | the vCPU count must come before the memory",
        "kiln-riscv64-2cpu-4gb  | 'riscv64' is neither an arch nor a vCPU count such as 4cpu",
        "kiln-arm64-big-4gb     | 'big' is not a vCPU count such as 4cpu",
        "kiln-4cpu-8mb          | '8mb' is not a memory size such as 8gb",
        "kiln-                  | it has an empty part",
        "kiln--4cpu-8gb         | it has an empty part",
    })
    void malformedKilnLabelSaysWhatIsWrongAndWhatIsExpected(String label, String problem) {
        InvalidLabelException error = catchThrowableOfType(InvalidLabelException.class,
                () -> labels.sizeOf(List.of("self-hosted", label)));

        assertThat(error.label()).isEqualTo(label);
        assertThat(error.code()).isEqualTo(ErrorCode.INVALID_LABEL);
        assertThat(error.code().kind()).isEqualTo(ErrorCode.Kind.USER_ERROR);
        assertThat(error).hasMessageStartingWith("runs-on label '" + label + "' is not a valid kiln label: ")
                .hasMessageContaining(problem)
                .hasMessageEndingWith("; expected kiln, kiln-<arch>, kiln-<N>cpu-<M>gb or kiln-<arch>-<N>cpu-<M>gb"
                        + " with arch x86_64, arm64 or any (e.g. kiln-4cpu-8gb, kiln-arm64-2cpu-4gb)");
    }

    @Test
    void twoKilnLabelsAskingForDifferentSizesConflict() {
        assertThatThrownBy(() -> labels.sizeOf(List.of("kiln-4cpu-8gb", "linux", "kiln-2cpu-4gb")))
                .isInstanceOf(InvalidLabelException.class)
                .hasMessage("runs-on labels 'kiln-4cpu-8gb' (4 vCPUs, 8 GiB memory, 32 GiB disk, x86_64) and"
                        + " 'kiln-2cpu-4gb' (2 vCPUs, 4 GiB memory, 32 GiB disk, x86_64) ask for different sizes;"
                        + " give a job one kiln label");
        assertThatThrownBy(() -> labels.sizeOf(List.of("kiln", "kiln-arm64")))
                .isInstanceOf(InvalidLabelException.class)
                .hasMessageContaining("'kiln' (2 vCPUs, 8 GiB memory, 32 GiB disk, x86_64) and 'kiln-arm64'");
    }

    @Test
    void kilnLabelsNamingTheSameSizeAgree() {
        assertThat(labels.sizeOf(List.of("kiln-4cpu-8gb", "KILN-4cpu-8GB"))).contains(Size.of(4, 8, 32, Arch.X86_64));
        assertThat(labels.sizeOf(List.of("kiln", "kiln-2cpu-8gb", "kiln-x86_64"))).contains(DEFAULT);
    }

    @Test
    void malformedLabelFailsEvenBesideAGoodOne() {
        assertThatThrownBy(() -> labels.sizeOf(List.of("kiln-4cpu-8gb", "kiln-4cpu")))
                .isInstanceOf(InvalidLabelException.class)
                .hasMessageContaining("'kiln-4cpu'");
    }

    @Test
    void prefixIsConfigurable() {
        SizeLabels migrated = new SizeLabels("ci-runner", DEFAULT, 64, 256);

        assertThat(migrated.sizeOf(List.of("ci-runner-4cpu-8gb"))).contains(Size.of(4, 8, 32, Arch.X86_64));
        assertThat(migrated.sizeOf(List.of("ci-runner"))).contains(DEFAULT);
        assertThat(migrated.sizeOf(List.of("kiln-4cpu-8gb"))).isEmpty();
        assertThatThrownBy(() -> migrated.sizeOf(List.of("ci-runner-4cpu")))
                .hasMessageContaining("not a valid ci-runner label")
                .hasMessageContaining("expected ci-runner, ci-runner-<arch>, ci-runner-<N>cpu-<M>gb");
    }

    @Test
    void defaultSizeAndMaximaAreConfigurable() {
        Size small = Size.of(1, 2, 8, Arch.ARM64);
        SizeLabels custom = new SizeLabels("kiln", small, 8, 16);

        assertThat(custom.sizeOf(List.of("kiln"))).contains(small);
        assertThat(custom.sizeOf(List.of("kiln-4cpu-8gb"))).contains(Size.of(4, 8, 8, Arch.ARM64));
        assertThatThrownBy(() -> custom.sizeOf(List.of("kiln-16cpu-8gb")))
                .hasMessageContaining("16 vCPUs is more than the maximum of 8");
        assertThatThrownBy(() -> custom.sizeOf(List.of("kiln-4cpu-32gb")))
                .hasMessageContaining("32 GiB of memory is more than the maximum of 16 GiB");
    }

    @Test
    void defaultsAreKilnPrefixAndTwoCpuEightGib() {
        SizeLabels defaults = SizeLabels.defaults();

        assertThat(defaults.prefix()).isEqualTo("kiln");
        assertThat(defaults.sizeOf(List.of("kiln"))).contains(SizeLabels.DEFAULT_SIZE);
        assertThat(defaults.sizeOf(List.of("kiln-64cpu-256gb"))).isPresent();
    }

    @Test
    void oversizedLabelIsRejectedWithAShortenedName() {
        String label = "kiln-4cpu-8gb-" + "x".repeat(5000);

        assertThatThrownBy(() -> labels.sizeOf(List.of(label)))
                .isInstanceOf(InvalidLabelException.class)
                .hasMessageContaining("it is longer than 100 characters")
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(500));
    }

    @Test
    void invalidConfigurationFails() {
        assertThatThrownBy(() -> new SizeLabels("", DEFAULT, 64, 256)).hasMessageContaining("label prefix ''");
        assertThatThrownBy(() -> new SizeLabels("kiln-", DEFAULT, 64, 256))
                .hasMessageContaining("label prefix 'kiln-'");
        assertThatThrownBy(() -> new SizeLabels("kiln", DEFAULT, 0, 256)).hasMessageContaining("at least 1");
        assertThatThrownBy(() -> new SizeLabels("kiln", Size.of(8, 8, 32, Arch.X86_64), 4, 256))
                .hasMessage("default size (8 vCPUs, 8 GiB memory, 32 GiB disk, x86_64) is beyond the label maxima"
                        + " of 4 vCPUs and 256 GiB");
    }

    @Test
    void prefixIsCaseInsensitive() {
        SizeLabels upper = new SizeLabels("Kiln", DEFAULT, 64, 256);

        assertThat(upper.prefix()).isEqualTo("kiln");
        assertThat(upper.sizeOf(List.of("kiln-4cpu-8gb"))).isEqualTo(Optional.of(Size.of(4, 8, 32, Arch.X86_64)));
    }
}
