package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JournalTest {
    @TempDir
    Path dir;

    @Test
    void entriesComeBackInOrderAndATornLastLineIsSkipped() throws Exception {
        Journal journal = new Journal(dir.resolve("journal"));
        journal.record(Journal.Kind.SLOT, "3");
        journal.record(Journal.Kind.TAP, "kilntap3");
        Files.writeString(dir.resolve("journal"), "CGRO", StandardOpenOption.APPEND);

        assertThat(journal.entries()).containsExactly(new Journal.Entry(Journal.Kind.SLOT, "3"),
                new Journal.Entry(Journal.Kind.TAP, "kilntap3"));
        assertThat(new Journal(dir.resolve("missing")).entries()).isEmpty();
    }
}
