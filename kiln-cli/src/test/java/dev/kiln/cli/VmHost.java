package dev.kiln.cli;

import dev.kiln.testkit.NetworkLab;
import dev.kiln.testkit.TestStateDir;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A host for a test that boots VMs through the CLI: a state directory sharing the built default image
 * and a network namespace of its own, made before each test and removed after it. A test registers it
 * with {@code @RegisterExtension final VmHost host = new VmHost();}.
 */
final class VmHost implements BeforeEachCallback, AfterEachCallback {
    private TestStateDir stateDir;
    private NetworkLab lab;

    @Override
    public void beforeEach(ExtensionContext context) {
        stateDir = TestStateDir.withImages("default");
        lab = NetworkLab.create();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        try {
            if (lab != null) {
                lab.close();
            }
        } finally {
            if (stateDir != null) {
                stateDir.close();
            }
        }
    }

    /** The state directory, for --state-dir. */
    Path state() {
        return stateDir.path();
    }

    /** The namespace holding the VMs' taps, for --netns. */
    String namespace() {
        return lab.hostNamespace();
    }
}
