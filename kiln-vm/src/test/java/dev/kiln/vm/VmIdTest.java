package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** VM ids name directories, cgroups and runners on a host shared by many Kiln processes: never twice. */
class VmIdTest {
    @Test
    void idsAreDistinctAndShapedForPathsAndNames() {
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            String id = VmEngine.newVmId();
            assertThat(id).matches("vm-[0-9a-f]{12}");
            ids.add(id);
        }
        assertThat(ids).hasSize(10_000);
    }
}
