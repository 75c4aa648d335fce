package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.KilnException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CgroupsTest {
    @TempDir
    Path dir;

    @Test
    void prefersV2WhenItsHierarchyHasCpuAndMemory() throws Exception {
        Path unified = Files.createDirectories(dir.resolve("unified"));
        Files.writeString(unified.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
        Path mounts = Files.writeString(dir.resolve("mounts"), "cgroup2 " + unified + " cgroup2 rw,relatime 0 0\n");

        Cgroups cgroups = Cgroups.detect(mounts);
        assertThat(cgroups.version()).isEqualTo(Cgroups.Version.V2);
        assertThat(cgroups.paths("vm-1")).containsExactly(unified.resolve("kiln/vm-1"));
    }

    @Test
    void fallsBackToV1OnHybridHostsWhoseV2HierarchyHasNoControllers() throws Exception {
        Path unified = Files.createDirectories(dir.resolve("unified"));
        Files.writeString(unified.resolve("cgroup.controllers"), "\n");
        Path mounts = Files.writeString(dir.resolve("mounts"), """
                cgroup2 %s cgroup2 rw,relatime 0 0
                cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
                cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
                """.formatted(unified));

        Cgroups cgroups = Cgroups.detect(mounts);
        assertThat(cgroups.version()).isEqualTo(Cgroups.Version.V1);
        assertThat(cgroups.paths("vm-1")).containsExactly(Path.of("/sys/fs/cgroup/cpu/kiln/vm-1"),
                Path.of("/sys/fs/cgroup/memory/kiln/vm-1"));
    }

    @Test
    void saysWhatToMountWhenNeitherIsThere() throws Exception {
        Path mounts = Files.writeString(dir.resolve("mounts"), "proc /proc proc rw 0 0\n");
        assertThatThrownBy(() -> Cgroups.detect(mounts)).isInstanceOf(KilnException.class)
                .hasMessageContaining("cpu and memory");
    }

    @Test
    void theQuotaLeavesTheVmmHalfACpuBeyondTheVcpus() {
        assertThat(Cgroups.quotaMicros(1)).isEqualTo(150_000);
        assertThat(Cgroups.quotaMicros(4)).isEqualTo(450_000);
    }
}
