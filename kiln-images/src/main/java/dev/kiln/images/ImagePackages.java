package dev.kiln.images;

import static java.util.Objects.requireNonNull;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Debian binary packages an image holds, from the {@code packages} file its build writes beside the manifest
 * ({@code images/build-image.sh}: dpkg-query of the root filesystem). Images built before it have none. The file is not
 * one of the image's digested files: only the server that built the image reads it, to check Debian's security updates.
 *
 * <pre>
 * suite bookworm
 * debian-arch amd64
 * package libssl3 amd64 3.0.15-1~deb12u1
 * </pre>
 *
 * @param suite the Debian suite the image was bootstrapped from ({@code bookworm})
 * @param debianArch Debian's name of its architecture ({@code amd64}, {@code arm64})
 * @param versions each installed binary package's version, by package name
 */
public record ImagePackages(String suite, String debianArch, Map<String, String> versions) {
    /** The file's name in the image's directory. */
    public static final String FILE = "packages";

    public ImagePackages {
        requireNonNull(suite, "suite is null");
        requireNonNull(debianArch, "debianArch is null");
        versions = Map.copyOf(versions);
    }

    /** Reads the file's text; an {@link IOException} names the line that is wrong. */
    public static ImagePackages parse(String text) throws IOException {
        String suite = null;
        String arch = null;
        Map<String, String> versions = new TreeMap<>();
        int number = 0;
        for (String line : text.split("\n", -1)) {
            number++;
            if (line.isBlank()) {
                continue;
            }
            String[] fields = line.strip().split(" +");
            switch (fields[0]) {
                case "suite" -> suite = single(fields, number, line);
                case "debian-arch" -> arch = single(fields, number, line);
                case "package" -> {
                    if (fields.length != 4) {
                        throw new IOException("line %d of %s is '%s', not 'package NAME ARCH VERSION'"
                                .formatted(number, FILE, line));
                    }
                    versions.put(fields[1], fields[3]);
                }
                default -> throw new IOException(("line %d of %s starts with '%s'; the lines are suite, debian-arch and"
                        + " package").formatted(number, FILE, fields[0]));
            }
        }
        if (suite == null || arch == null) {
            throw new IOException(FILE + " names no " + (suite == null ? "suite" : "debian-arch"));
        }
        return new ImagePackages(suite, arch, versions);
    }

    private static String single(String[] fields, int number, String line) throws IOException {
        if (fields.length != 2) {
            throw new IOException("line %d of %s is '%s', not '%s VALUE'".formatted(number, FILE, line, fields[0]));
        }
        return fields[1];
    }
}
