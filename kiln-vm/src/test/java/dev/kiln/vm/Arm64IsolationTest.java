package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.Arch;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** An arm64 guest (emulated on an x86_64 host) passes the isolation probes x86_64 guests pass. */
@Tag("vm")
@Timeout(400)
class Arm64IsolationTest {
    @RegisterExtension
    static final TestHost host = new TestHost("default-arm64");

    @Test
    void arm64VmsAreIsolatedAsX86VmsAre() throws Exception {
        assertThat(host.image.architecture()).isEqualTo(Arch.ARM64);

        IsolationTest.probe(host);
    }
}
