package dev.kiln.core;

import static dev.kiln.core.Fixtures.hostId;
import static dev.kiln.core.Fixtures.size;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The records' own checks: bad values fail at construction with the value named. */
class ModelTest {
    @Test
    void archParsesTheUsualSpellings() {
        assertThat(Arch.parse("x86_64")).contains(Arch.X86_64);
        assertThat(Arch.parse("AMD64")).contains(Arch.X86_64);
        assertThat(Arch.parse("aarch64")).contains(Arch.ARM64);
        assertThat(Arch.parse("any")).contains(Arch.ANY);
        assertThat(Arch.parse("x64")).isEmpty();
        assertThat(Arch.ANY.runsOn(Arch.ARM64)).isTrue();
        assertThat(Arch.ARM64.runsOn(Arch.X86_64)).isFalse();
        assertThat(Arch.X86_64).hasToString("x86_64");
    }

    @Test
    void sizeRejectsNonPositiveValues() {
        assertThatThrownBy(() -> new Size(0, 1024, 10, Arch.X86_64)).hasMessage("vcpus must be at least 1, got 0");
        assertThatThrownBy(() -> new Size(1, 0, 10, Arch.X86_64)).hasMessage("memoryMib must be at least 1, got 0");
        assertThatThrownBy(() -> new Size(1, 1024, 0, Arch.X86_64)).hasMessage("diskGib must be at least 1, got 0");
        assertThat(new Size(1, 1536, 10, Arch.ARM64)).hasToString("1 vCPU, 1536 MiB memory, 10 GiB disk, arm64");
    }

    @Test
    void hostSumsItsAllocationsAndChecksItself() {
        Host host = Fixtures.withJobs(Fixtures.host("h1", 16, 64), size(4, 8), size(2, 16));

        assertThat(host.reservedVcpus()).isEqualTo(6);
        assertThat(host.reservedMemoryMib()).isEqualTo(24 * 1024);
        assertThat(host.reservedDiskGib()).isEqualTo(20);
        assertThat(host.couldEverHold(size(16, 64))).isTrue();
        assertThat(host.couldEverHold(size(17, 8))).isFalse();
        assertThat(host.couldEverHold(size(2, 4, Arch.ARM64))).isFalse();
        assertThat(host.couldEverHold(size(2, 4, Arch.ANY))).isTrue();
        assertThat(host.withState(HostState.DRAINING).state()).isEqualTo(HostState.DRAINING);

        assertThatThrownBy(() -> Host.active(hostId("h2"), Arch.ANY, 4, 1024, 10))
                .hasMessageContaining("host h2 must have a concrete arch");
        assertThatThrownBy(() -> Host.active(hostId("h2"), Arch.X86_64, 0, 1024, 10))
                .hasMessageContaining("host h2 must have at least 1 vCPU");
        Allocation twice = new Allocation(new JobId("j1"), size(1, 1), "acme", "acme/web");
        assertThatThrownBy(() -> new Host(hostId("h3"), Arch.X86_64, 4, 4096, 10, Set.of(), HostState.ACTIVE,
                List.of(twice, twice))).hasMessage("host h3 lists job j1 twice");
    }

    @Test
    void idsAndNamesAreBounded() {
        assertThatThrownBy(() -> new JobId(" ")).hasMessageContaining("job id must be 1 to 128 characters");
        assertThatThrownBy(() -> new HostId("h".repeat(129))).hasMessageContaining("host id must be 1 to 128");
        assertThatThrownBy(() -> new HostId("h\n1")).hasMessage("host id must not contain control characters");
        assertThatThrownBy(() -> Fixtures.job("j1", 1, size(1, 1), "", "acme/web"))
                .hasMessageContaining("org must be 1 to 256 characters");
        assertThatThrownBy(() -> Fixtures.job("j1", -1, size(1, 1)))
                .hasMessage("sequence must not be negative, got -1");
    }

    @Test
    void concurrencyLimitsIgnoreCaseAndRejectNegatives() {
        ConcurrencyLimits limits = new ConcurrencyLimits(10, ConcurrencyLimits.UNLIMITED, Map.of("Acme", 2),
                Map.of("acme/Web", 1));

        assertThat(limits.forOrg("ACME")).isEqualTo(2);
        assertThat(limits.forOrg("other")).isEqualTo(10);
        assertThat(limits.forRepo("acme/web")).isEqualTo(1);
        assertThat(limits.forRepo("acme/api")).isEqualTo(ConcurrencyLimits.UNLIMITED);
        assertThatThrownBy(() -> new ConcurrencyLimits(-1, 1, Map.of(), Map.of()))
                .hasMessage("perOrg must be 0 or more, got -1");
        assertThatThrownBy(() -> new ConcurrencyLimits(1, 1, Map.of("acme", 1, "ACME", 2), Map.of()))
                .hasMessageContaining("names ignore case");
    }

    @Test
    void schedulerConfigChecksItsValues() {
        SchedulerConfig defaults = SchedulerConfig.defaults();

        assertThat(defaults.strategy()).isEqualTo(PlacementStrategy.BEST_FIT);
        assertThat(defaults.vcpuOvercommit()).isEqualTo(1.0);
        assertThat(defaults.holdHostsAfter()).isEqualTo(Duration.ofMinutes(5));
        assertThatThrownBy(() -> defaults.withVcpuOvercommit(0.5))
                .hasMessage("vcpuOvercommit must be from 1.0 to 16.0, got 0.5");
        assertThatThrownBy(() -> defaults.withVcpuOvercommit(Double.NaN)).hasMessageContaining("got NaN");
        assertThatThrownBy(() -> defaults.withHoldHostsAfter(Duration.ofSeconds(-1)))
                .hasMessageContaining("must not be negative");
    }
}
