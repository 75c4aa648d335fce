package dev.kiln.cli;

import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * One command-line option, declared once: picocli gets it as an {@link OptionSpec} (help, mistakes,
 * every command line but `kiln run`'s usual one), {@link QuickParse} reads it directly.
 *
 * @param type       the value's type: String, int, long, Path, an enum, or boolean for a flag without a value
 * @param converter  how a value is read when not by its type alone (sizes, durations); null for none
 * @param initial    the value when the option is not given (for a repeatable one: none, an empty list)
 */
record Flag(List<String> names, String label, Class<?> type, CommandLine.ITypeConverter<?> converter,
        Object initial, boolean repeatable, boolean hidden, String description) {

    /** An option taking a value. */
    static Flag value(String name, String label, Class<?> type, String description) {
        return new Flag(List.of(name), label, type, null, null, false, false, description);
    }

    /** An option without a value: true when given. */
    static Flag flag(List<String> names, String description) {
        return new Flag(names, null, boolean.class, null, false, false, false, description);
    }

    /** An option given as often as wanted, its values in order. */
    static Flag repeatable(List<String> names, String label, String description) {
        return new Flag(names, label, String.class, null, null, true, false, description);
    }

    Flag convertedBy(CommandLine.ITypeConverter<?> converter) {
        return new Flag(names, label, type, converter, initial, repeatable, hidden, description);
    }

    Flag initially(Object initial) {
        return new Flag(names, label, type, converter, initial, repeatable, hidden, description);
    }

    Flag hiddenFromHelp() {
        return new Flag(names, label, type, converter, initial, repeatable, true, description);
    }

    boolean takesValue() {
        return type != boolean.class;
    }

    /** The value of a text as picocli would read it for this option; throws what picocli's converters throw. */
    Object convert(String text) throws Exception {
        if (converter != null) {
            return converter.convert(text);
        }
        if (type == String.class) {
            return text;
        }
        if (type == int.class) {
            return Integer.valueOf(text);
        }
        if (type == long.class) {
            return Long.valueOf(text);
        }
        if (type == java.nio.file.Path.class) {
            return java.nio.file.Path.of(text);
        }
        if (type.isEnum()) {
            for (Object constant : type.getEnumConstants()) {
                if (((Enum<?>) constant).name().equalsIgnoreCase(text)) {
                    return constant;
                }
            }
            throw new CommandLine.TypeConversionException("'" + text + "' is not one of "
                    + List.of(type.getEnumConstants()).toString().toLowerCase(Locale.ROOT));
        }
        throw new IllegalStateException("no conversion to " + type + " for " + names);
    }
}
