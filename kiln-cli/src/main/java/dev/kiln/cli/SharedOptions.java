package dev.kiln.cli;

import java.lang.reflect.Field;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Options several commands take ({@link HostOptions}, {@link ClientOptions}), declared as {@link Flag}s
 * rather than with picocli's annotations: `kiln run` reads them without picocli (see {@link QuickParse}).
 * An annotated command takes them by holding them in a field, as it would hold a picocli mixin.
 */
interface SharedOptions {
    OptionSet options();

    /** Adds to a command's model the shared options it holds in its fields. */
    static void addFromFields(Object command, CommandSpec spec) {
        for (Field field : command.getClass().getDeclaredFields()) {
            if (SharedOptions.class.isAssignableFrom(field.getType())) {
                spec.addMixin(field.getName(), fieldValue(field, command).options().mixin());
            }
        }
    }

    private static SharedOptions fieldValue(Field field, Object command) {
        try {
            field.setAccessible(true);
            SharedOptions options = (SharedOptions) field.get(command);
            if (options == null) {
                throw new IllegalStateException(field + " is null: initialise it where it is declared");
            }
            return options;
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read " + field, e);
        }
    }
}
