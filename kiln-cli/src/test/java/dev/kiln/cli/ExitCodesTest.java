package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.core.ErrorCode;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Kiln's own exit codes: documented in the README's table, and none a command's own 126 or 127. */
class ExitCodesTest {
    private static Set<Integer> codes() {
        Set<Integer> codes = new TreeSet<>();
        for (var field : ExitCodes.class.getDeclaredFields()) {
            if (Modifier.isStatic(field.getModifiers()) && field.getType() == int.class) {
                try {
                    codes.add(field.getInt(null));
                } catch (IllegalAccessException e) {
                    throw new AssertionError(e);
                }
            }
        }
        return codes;
    }

    @Test
    void noKilnFailureLooksLikeAShellsNotExecutableOrNotFound() {
        for (ErrorCode code : ErrorCode.values()) {
            assertThat(ExitCodes.of(code)).as(code.name()).isNotIn(126, 127).isBetween(2, 130);
        }
        assertThat(codes()).doesNotContain(126, 127);
    }

    @Test
    void theReadmesTableListsEveryCodeButSuccess() throws Exception {
        Path readme = Path.of(System.getProperty("user.dir")).resolveSibling("README.md");
        Set<Integer> documented = new TreeSet<>();
        var row = Pattern.compile("^\\| (\\d+) \\|");
        for (String line : Files.readAllLines(readme)) {
            var match = row.matcher(line);
            if (match.find()) {
                documented.add(Integer.parseInt(match.group(1)));
            }
        }
        Set<Integer> expected = new TreeSet<>(codes());
        expected.remove(ExitCodes.OK);
        assertThat(documented).as("codes in %s", readme).isEqualTo(expected);
    }
}
