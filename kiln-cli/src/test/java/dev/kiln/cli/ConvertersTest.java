package dev.kiln.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class ConvertersTest {
    @Test
    void sizesAsUsersWriteThem() {
        var mib = new Converters.MebibyteSize();
        assertThat(mib.convert("512m")).isEqualTo(512);
        assertThat(mib.convert("2g")).isEqualTo(2048);
        assertThat(mib.convert("2GiB")).isEqualTo(2048);
        assertThat(mib.convert("1t")).isEqualTo(1024 * 1024);
        assertThat(new Converters.GibibyteSize().convert("10g")).isEqualTo(10);
        assertThatThrownBy(() -> mib.convert("512")).isInstanceOf(CommandLine.TypeConversionException.class)
                .hasMessageContaining("like 512m or 2g");
    }

    @Test
    void durationsAsUsersWriteThem() {
        var timeout = new Converters.Timeout();
        assertThat(timeout.convert("90s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(timeout.convert("10m")).isEqualTo(Duration.ofMinutes(10));
        assertThat(timeout.convert("1h30m")).isEqualTo(Duration.ofMinutes(90));
        assertThatThrownBy(() -> timeout.convert("")).hasMessageContaining("not a duration");
        assertThatThrownBy(() -> timeout.convert("10")).hasMessageContaining("not a duration");
    }
}
