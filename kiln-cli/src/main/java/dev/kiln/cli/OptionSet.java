package dev.kiln.cli;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Flags and the values one command line gave them, whichever parser read it. */
final class OptionSet {
    private final List<Flag> flags;
    // By identity: flags are constants, and a record's own hashCode links through invokedynamic, which
    // costs a fresh JVM ~15 ms on `kiln run`'s way to the VM.
    private final Map<Flag, Object> values = new IdentityHashMap<>();

    OptionSet(Flag... flags) {
        this.flags = List.of(flags);
    }

    List<Flag> flags() {
        return flags;
    }

    /** The value given, else the flag's initial one (an empty list for a repeatable flag). */
    @SuppressWarnings("unchecked")
    <T> T get(Flag flag) {
        Object value = values.containsKey(flag) ? values.get(flag) : flag.initial();
        if (value == null && flag.repeatable()) {
            return (T) List.of();
        }
        return (T) value;
    }

    /** Records a value: a repeatable flag's values accumulate in order. */
    void put(Flag flag, Object value) {
        if (flag.repeatable()) {
            @SuppressWarnings("unchecked")
            List<Object> list = (List<Object>) values.get(flag);
            if (list == null) {
                list = new ArrayList<>();
                values.put(flag, list);
            }
            list.add(value);
        } else {
            values.put(flag, value);
        }
    }

    /** The flags as picocli options that write into this set. */
    CommandSpec mixin() {
        CommandSpec spec = CommandSpec.create();
        for (Flag flag : flags) {
            spec.addOption(optionSpec(flag));
        }
        return spec;
    }

    private OptionSpec optionSpec(Flag flag) {
        OptionSpec.Builder builder = OptionSpec.builder(flag.names().toArray(String[]::new))
                .description(flag.description()).hidden(flag.hidden())
                .getter(new CommandLine.Model.IGetter() {
                    @Override
                    @SuppressWarnings("unchecked")
                    public <T> T get() {
                        return (T) values.get(flag);
                    }
                })
                .setter(new CommandLine.Model.ISetter() {
                    @Override
                    @SuppressWarnings("unchecked")
                    public <T> T set(T value) {
                        // picocli sets a repeatable option's whole list, and null before each parse.
                        return value == null ? (T) values.remove(flag) : (T) values.put(flag, value);
                    }
                });
        if (flag.repeatable()) {
            builder.type(List.class).auxiliaryTypes(flag.type());
        } else {
            builder.type(flag.type());
        }
        if (flag.takesValue()) {
            builder.paramLabel(flag.label());
        }
        if (flag.converter() != null) {
            builder.converters(flag.converter());
        }
        return builder.hasInitialValue(false).build();
    }
}
