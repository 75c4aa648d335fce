package dev.kiln.core;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/** "Did you mean" for configuration keys: the known word nearest to a misspelt one, by edit distance. */
public final class Spelling {
    static final int MAX_DISTANCE = 3;

    private Spelling() {}

    /** The known word within three edits of {@code word}, the nearest first; empty when none is that near. */
    public static Optional<String> nearest(String word, Collection<String> known) {
        return known.stream().min(Comparator.comparingInt(k -> distance(k, word))).filter(k -> distance(k, word) <= MAX_DISTANCE);
    }

    /** Levenshtein distance: insertions, deletions and substitutions, one each. */
    public static int distance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            int[] swap = previous;
            previous = current;
            current = swap;
        }
        return previous[b.length()];
    }
}
