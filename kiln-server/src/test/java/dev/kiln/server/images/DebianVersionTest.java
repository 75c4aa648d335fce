package dev.kiln.server.images;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Debian's version ordering, by known cases and against dpkg's own {@code --compare-versions} on every pair. */
class DebianVersionTest {
    /** Versions in dpkg's order, each strictly below the next. */
    static final List<String> ASCENDING = List.of(
            "0.9", "1.0~~", "1.0~~a", "1.0~", "1.0~rc1", "1.0", "1.0-0.1", "1.0-1~bpo1", "1.0-1", "1.0-1+b1",
            "1.0-1.1", "1.0-2", "1.0-10", "1.0a", "1.0a-1", "1.0+dfsg", "1.0.1", "1.00.2", "1.1", "1.10", "2",
            "3.0.15-1~deb12u1", "3.0.15-1", "3.0.16-1~deb12u1", "3.0.17-1~deb12u1", "3.0.17-1", "1:0.1", "1:1.0", "2:0");

    @Test
    void versionsAreOrderedAsDpkgOrdersThem() {
        for (int i = 0; i + 1 < ASCENDING.size(); i++) {
            String lower = ASCENDING.get(i);
            String higher = ASCENDING.get(i + 1);
            assertThat(DebianVersion.ORDER.compare(lower, higher)).as("%s < %s", lower, higher).isNegative();
            assertThat(DebianVersion.ORDER.compare(higher, lower)).as("%s > %s", higher, lower).isPositive();
        }
        // Equal by value though written differently: an epoch of 0, leading zeros, an empty revision.
        assertThat(DebianVersion.ORDER.compare("0:1.0", "1.0")).isZero();
        assertThat(DebianVersion.ORDER.compare("1.01", "1.1")).isZero();
        assertThat(DebianVersion.ORDER.compare("1.0", "1.0-0")).isZero();
        assertThat(DebianVersion.ORDER.compare("3.0.17-1~deb12u1", "3.0.17-1~deb12u1")).isZero();
        // A hyphen in the upstream part: the revision is after the last one.
        assertThat(DebianVersion.parse("1:2.3-beta-4")).isEqualTo(new DebianVersion(1, "2.3-beta", "4"));
    }

    @Test
    void dpkgAgreesOnEveryPair() throws Exception {
        Path dpkg = Path.of("/usr/bin/dpkg");
        assertThat(Files.isExecutable(dpkg)).as("this test compares with dpkg --compare-versions: install dpkg").isTrue();
        List<String> mismatches = new ArrayList<>();
        // Each unordered pair once (the other direction is the known cases' antisymmetry): ~430 dpkg runs.
        for (int i = 0; i < ASCENDING.size(); i++) {
            for (int j = i + 1; j < ASCENDING.size(); j++) {
                String a = ASCENDING.get(j);
                String b = ASCENDING.get(i);
                boolean dpkgSaysLess = dpkg(a, "lt", b);
                if (dpkgSaysLess != DebianVersion.ORDER.compare(a, b) < 0) {
                    mismatches.add(a + " lt " + b + ": dpkg says " + dpkgSaysLess);
                }
            }
        }
        assertThat(mismatches).isEmpty();
    }

    @Test
    @Timeout(10)
    void malformedVersionsAreRefusedSayingWhy() {
        assertThatThrownBy(() -> DebianVersion.parse(" ")).hasMessageContaining("empty");
        assertThatThrownBy(() -> DebianVersion.parse("x:1.0")).hasMessageContaining("epoch 'x', not a number");
        assertThatThrownBy(() -> DebianVersion.parse("abc-1")).hasMessageContaining("must start with a digit");
        assertThatThrownBy(() -> DebianVersion.parse("1.0 beta")).hasMessageContaining("a character other than");
        assertThatThrownBy(() -> DebianVersion.parse("1.0-")).hasMessageContaining("a character other than");
    }

    private static boolean dpkg(String a, String op, String b) throws IOException, InterruptedException {
        Process process = new ProcessBuilder("/usr/bin/dpkg", "--compare-versions", a, op, b).redirectErrorStream(true)
                .start();
        String output = new String(process.getInputStream().readAllBytes());
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new IllegalStateException("dpkg --compare-versions " + a + " " + op + " " + b + " hung");
        }
        if (process.exitValue() > 1 || !output.isBlank()) {
            throw new IllegalStateException("dpkg --compare-versions " + a + " " + op + " " + b + ": " + output);
        }
        return process.exitValue() == 0;
    }
}
