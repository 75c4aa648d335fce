package dev.kiln.cli;

import dev.kiln.core.Arch;
import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Sizes ("512m", "2g") and durations ("90s", "10m", "1h30m") as users write them. */
final class Converters {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgt])(i?b)?");
    private static final Pattern DURATION = Pattern.compile("(?:(\\d+)h)?(?:(\\d+)m)?(?:(\\d+)s)?");

    private Converters() {}

    /** A size in MiB. */
    static final class MebibyteSize implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            Matcher m = SIZE.matcher(value.strip().toLowerCase(Locale.ROOT));
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException(
                        "'%s' is not a size: write a number and a unit, like 512m or 2g".formatted(value));
            }
            long number = Long.parseLong(m.group(1));
            long mib = switch (m.group(2)) {
                case "k" -> number / 1024;
                case "m" -> number;
                case "g" -> number * 1024;
                default -> number * 1024 * 1024;
            };
            if (mib <= 0 || mib > 64L * 1024 * 1024) {
                throw new CommandLine.TypeConversionException("'%s' is out of range".formatted(value));
            }
            return mib;
        }
    }

    /** A VM's architecture: x86_64 (amd64) or arm64 (aarch64); a VM is never "any". */
    static final class GuestArch implements CommandLine.ITypeConverter<Arch> {
        @Override
        public Arch convert(String value) {
            return Arch.parse(value.strip()).filter(arch -> arch != Arch.ANY).orElseThrow(() ->
                    new CommandLine.TypeConversionException("'%s' is not an architecture: x86_64 or arm64".formatted(value)));
        }
    }

    /** A size in whole GiB. */
    static final class GibibyteSize implements CommandLine.ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            long mib = new MebibyteSize().convert(value);
            if (mib % 1024 != 0) {
                throw new CommandLine.TypeConversionException(
                        "'%s' is not a whole number of GiB: write it like 10g".formatted(value));
            }
            return Math.toIntExact(mib / 1024);
        }
    }

    static final class Timeout implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            String text = value.strip().toLowerCase(Locale.ROOT);
            Matcher m = DURATION.matcher(text);
            if (text.isEmpty() || !m.matches()) {
                throw new CommandLine.TypeConversionException(
                        "'%s' is not a duration: write it like 90s, 10m or 1h30m".formatted(value));
            }
            Duration duration = Duration.ofHours(part(m, 1)).plusMinutes(part(m, 2)).plusSeconds(part(m, 3));
            if (duration.isZero()) {
                throw new CommandLine.TypeConversionException("'%s' is zero: give a positive duration".formatted(value));
            }
            return duration;
        }

        private static long part(Matcher m, int group) {
            return m.group(group) == null ? 0 : Long.parseLong(m.group(group));
        }
    }
}
