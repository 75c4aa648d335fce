package dev.kiln.server.images;

import static java.util.Objects.requireNonNull;

import java.util.Comparator;

/**
 * A Debian package version, {@code [EPOCH:]UPSTREAM[-REVISION]}, ordered as dpkg orders them (deb-version(7),
 * dpkg's {@code verrevcmp}): epochs as numbers, then upstream and revision each as alternating runs of non-digits,
 * compared character by character with {@code ~} before everything (even the end) and letters before other
 * characters, and of digits, compared as numbers. So {@code 3.0.15-1~deb12u1 < 3.0.15-1 < 3.0.17-1~deb12u1}.
 */
record DebianVersion(long epoch, String upstream, String revision) implements Comparable<DebianVersion> {
    static final Comparator<String> ORDER = Comparator.comparing(DebianVersion::parse);

    DebianVersion {
        requireNonNull(upstream, "upstream is null");
        requireNonNull(revision, "revision is null");
    }

    /** Parses a version as a Packages file or dpkg-query gives it; refuses what dpkg would refuse. */
    static DebianVersion parse(String text) {
        requireNonNull(text, "text is null");
        String version = text.strip();
        if (version.isEmpty()) {
            throw new IllegalArgumentException("an empty Debian version");
        }
        long epoch = 0;
        int colon = version.indexOf(':');
        if (colon >= 0) {
            String digits = version.substring(0, colon);
            if (!digits.matches("[0-9]{1,9}")) {
                throw new IllegalArgumentException("Debian version '" + text + "' has epoch '" + digits
                        + "', not a number");
            }
            epoch = Long.parseLong(digits);
            version = version.substring(colon + 1);
        }
        int hyphen = version.lastIndexOf('-');
        String upstream = hyphen >= 0 ? version.substring(0, hyphen) : version;
        String revision = hyphen >= 0 ? version.substring(hyphen + 1) : "";
        if (upstream.isEmpty() || !Character.isDigit(upstream.charAt(0))) {
            throw new IllegalArgumentException("Debian version '" + text + "' has upstream version '" + upstream
                    + "', which must start with a digit");
        }
        if (!upstream.matches("[A-Za-z0-9.+~:-]+") || (hyphen >= 0 && !revision.matches("[A-Za-z0-9.+~]+"))) {
            throw new IllegalArgumentException("Debian version '" + text + "' has a character other than letters,"
                    + " digits and . + ~ - :");
        }
        return new DebianVersion(epoch, upstream, revision);
    }

    @Override
    public int compareTo(DebianVersion other) {
        int byEpoch = Long.compare(epoch, other.epoch);
        if (byEpoch != 0) {
            return byEpoch;
        }
        int byUpstream = compare(upstream, other.upstream);
        return byUpstream != 0 ? byUpstream : compare(revision, other.revision);
    }

    /** dpkg's {@code verrevcmp}. */
    static int compare(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() || j < b.length()) {
            while ((i < a.length() && !digit(a, i)) || (j < b.length() && !digit(b, j))) {
                int ac = order(a, i);
                int bc = order(b, j);
                if (ac != bc) {
                    return Integer.compare(ac, bc);
                }
                i++;
                j++;
            }
            while (i < a.length() && a.charAt(i) == '0') {
                i++;
            }
            while (j < b.length() && b.charAt(j) == '0') {
                j++;
            }
            int firstDiff = 0;
            while (digit(a, i) && digit(b, j)) {
                if (firstDiff == 0) {
                    firstDiff = Integer.compare(a.charAt(i), b.charAt(j));
                }
                i++;
                j++;
            }
            if (digit(a, i)) {
                return 1;
            }
            if (digit(b, j)) {
                return -1;
            }
            if (firstDiff != 0) {
                return firstDiff;
            }
        }
        return 0;
    }

    private static boolean digit(String s, int i) {
        return i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9';
    }

    /** A character's weight: the end and digits 0, {@code ~} below them, letters by code, others after letters. */
    private static int order(String s, int i) {
        if (i >= s.length()) {
            return 0;
        }
        char c = s.charAt(i);
        if (c >= '0' && c <= '9') {
            return 0;
        }
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
            return c;
        }
        return c == '~' ? -1 : c + 256;
    }

    @Override
    public String toString() {
        return (epoch == 0 ? "" : epoch + ":") + upstream + (revision.isEmpty() ? "" : "-" + revision);
    }
}
