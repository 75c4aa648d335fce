package dev.kiln.server;

import dev.kiln.core.Arch;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/** A host's emulated arches as the hosts table keeps them: sorted ids, comma-separated, empty for none. */
final class EmulatedArches {
    private EmulatedArches() {}

    static String column(Collection<Arch> arches) {
        return arches.stream().map(Arch::id).collect(Collectors.toCollection(TreeSet::new)).stream()
                .collect(Collectors.joining(","));
    }

    static Set<Arch> parse(String column) {
        return ids(column).stream().map(id -> Arch.parse(id).orElseThrow(() ->
                new IllegalStateException("stored emulated arch '" + id + "' is unknown"))).collect(Collectors.toSet());
    }

    static List<String> ids(String column) {
        return column == null || column.isBlank() ? List.of() : Arrays.asList(column.split(","));
    }
}
