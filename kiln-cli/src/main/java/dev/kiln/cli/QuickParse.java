package dev.kiln.cli;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Reads `kiln run`'s usual command line without picocli, whose model of it takes ~50 ms to build in
 * a fresh JVM: the time the VM waits for. It takes only shapes that picocli reads one way (--name
 * value, --name=value, -n value, flags without values, then -- and the command) and declines
 * everything else: --help, a name it does not know, a flag given twice, a value that does not convert,
 * no command. Declined arguments go to picocli, which knows the same {@link Flag}s and explains the
 * mistake; QuickParseTest checks that both read every accepted line alike.
 */
final class QuickParse {
    private QuickParse() {}

    /**
     * Puts the options' values into their sets and returns the command after "--", or nothing (the sets
     * then hold partial values and are not to be used).
     */
    static Optional<List<String>> parse(List<String> args, List<OptionSet> sets) {
        Set<Flag> seen = Collections.newSetFromMap(new IdentityHashMap<>()); // see OptionSet
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            if (arg.equals("--")) {
                List<String> command = args.subList(i + 1, args.size());
                return command.isEmpty() ? Optional.empty() : Optional.of(List.copyOf(command));
            }
            if (arg.startsWith("@")) {
                return Optional.empty(); // picocli reads @FILE as more arguments
            }
            int equals = arg.startsWith("--") ? arg.indexOf('=') : -1;
            String name = equals < 0 ? arg : arg.substring(0, equals);
            OptionSet set = null;
            Flag flag = null;
            for (OptionSet candidate : sets) {
                for (Flag f : candidate.flags()) {
                    if (f.names().contains(name)) {
                        set = candidate;
                        flag = f;
                    }
                }
            }
            if (flag == null || (!flag.repeatable() && !seen.add(flag))) {
                return Optional.empty();
            }
            if (!flag.takesValue()) {
                if (equals >= 0) {
                    return Optional.empty();
                }
                set.put(flag, true);
                continue;
            }
            String text;
            if (equals >= 0 && !arg.startsWith("@", equals + 1)) {
                text = arg.substring(equals + 1);
            } else if (i + 1 < args.size() && !args.get(i + 1).startsWith("-") && !args.get(i + 1).startsWith("@")) {
                text = args.get(++i);
            } else {
                return Optional.empty();
            }
            try {
                set.put(flag, flag.convert(text));
            } catch (Exception notAValue) {
                return Optional.empty();
            }
        }
        return Optional.empty();
    }
}
