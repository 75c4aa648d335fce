package dev.kiln.core;

import static java.util.Objects.requireNonNull;

import java.util.Arrays;
import java.util.Collection;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a job's {@code runs-on} labels into a {@link Size}.
 *
 * <p>With the prefix {@code kiln} the forms are {@code kiln} (the default size), {@code kiln-<arch>}
 * (the default size on that arch), {@code kiln-<N>cpu-<M>gb} and {@code kiln-<arch>-<N>cpu-<M>gb}, where
 * arch is x86_64 (or amd64), arm64 (or aarch64) or any, and {@code gb} means GiB. Without an arch a
 * label takes the default size's arch; disk always comes from the default size. Labels are compared
 * without regard to case, as GitHub does.
 *
 * <p>Labels without the prefix ({@code self-hosted}, {@code linux}, {@code x64}, another system's) are
 * ignored. A label that has the prefix but is malformed, or is beyond the configured maxima, fails with
 * {@link InvalidLabelException}, as do two Kiln labels that ask for different sizes.
 */
public final class SizeLabels {
    public static final String DEFAULT_PREFIX = "kiln";
    /** Two vCPUs as on a hosted runner, with room for Docker builds. */
    public static final Size DEFAULT_SIZE = Size.of(2, 8, 32, Arch.X86_64);
    public static final int DEFAULT_MAX_VCPUS = 64;
    public static final long DEFAULT_MAX_MEMORY_GIB = 256;

    static final int MAX_LABEL_LENGTH = 100;
    private static final Pattern PREFIX = Pattern.compile("[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?");
    private static final Pattern CPU = Pattern.compile("([0-9]+)cpu");
    private static final Pattern MEMORY = Pattern.compile("([0-9]+)gb");

    private final String prefix;
    private final Size defaultSize;
    private final int maxVcpus;
    private final long maxMemoryGib;

    /**
     * @param prefix the label prefix, e.g. {@code kiln}; another system's prefix keeps its labels
     *     working after a migration
     * @param defaultSize the size of the bare label and the disk of every label
     * @param maxVcpus the most vCPUs a label may ask for
     * @param maxMemoryGib the most memory, in GiB, a label may ask for
     */
    public SizeLabels(String prefix, Size defaultSize, int maxVcpus, long maxMemoryGib) {
        requireNonNull(prefix, "prefix is null");
        this.defaultSize = requireNonNull(defaultSize, "defaultSize is null");
        this.prefix = prefix.toLowerCase(Locale.ROOT);
        if (!PREFIX.matcher(this.prefix).matches()) {
            throw new IllegalArgumentException("label prefix '" + prefix
                    + "' must be letters, digits, '.', '_' or '-', starting and ending with a letter or digit");
        }
        if (maxVcpus < 1 || maxMemoryGib < 1) {
            throw new IllegalArgumentException(
                    "label maxima must be at least 1, got " + maxVcpus + " vCPUs and " + maxMemoryGib + " GiB");
        }
        if (defaultSize.vcpus() > maxVcpus || defaultSize.memoryMib() > maxMemoryGib * Quantities.MIB_PER_GIB) {
            throw new IllegalArgumentException("default size (" + defaultSize + ") is beyond the label maxima of "
                    + Quantities.vcpus(maxVcpus) + " and " + maxMemoryGib + " GiB");
        }
        this.maxVcpus = maxVcpus;
        this.maxMemoryGib = maxMemoryGib;
    }

    /** Prefix {@code kiln}, default size {@link #DEFAULT_SIZE}, at most 64 vCPUs and 256 GiB. */
    public static SizeLabels defaults() {
        return new SizeLabels(DEFAULT_PREFIX, DEFAULT_SIZE, DEFAULT_MAX_VCPUS, DEFAULT_MAX_MEMORY_GIB);
    }

    public String prefix() {
        return prefix;
    }

    public Size defaultSize() {
        return defaultSize;
    }

    /**
     * The size a job's labels ask for, or empty when none of them is Kiln's (the job is not ours).
     *
     * @throws InvalidLabelException when a Kiln label is malformed or two Kiln labels disagree
     */
    public Optional<Size> sizeOf(Collection<String> labels) {
        requireNonNull(labels, "labels is null");
        String chosenLabel = null;
        Size chosen = null;
        for (String label : labels) {
            requireNonNull(label, "labels contains null");
            Optional<Size> size = parse(label);
            if (size.isEmpty()) {
                continue;
            }
            if (chosen == null) {
                chosenLabel = label;
                chosen = size.get();
            } else if (!chosen.equals(size.get())) {
                throw new InvalidLabelException(label, "runs-on labels '" + quote(chosenLabel) + "' (" + chosen
                        + ") and '" + quote(label) + "' (" + size.get()
                        + ") ask for different sizes; give a job one " + prefix + " label");
            }
        }
        return Optional.ofNullable(chosen);
    }

    /** Whether the label has this prefix, so that it is Kiln's to read (well formed or not). */
    public boolean isKilnLabel(String label) {
        requireNonNull(label, "label is null");
        String lower = label.toLowerCase(Locale.ROOT);
        return lower.equals(prefix) || lower.startsWith(prefix + "-");
    }

    /** One label's size; empty when the label is not Kiln's. */
    private Optional<Size> parse(String label) {
        if (!isKilnLabel(label)) {
            return Optional.empty();
        }
        if (label.length() > MAX_LABEL_LENGTH) {
            throw invalid(label, "it is longer than " + MAX_LABEL_LENGTH + " characters");
        }
        String lower = label.toLowerCase(Locale.ROOT);
        if (lower.equals(prefix)) {
            return Optional.of(defaultSize);
        }
        String[] parts = lower.substring(prefix.length() + 1).split("-", -1);
        int next = 0;
        Arch arch = defaultSize.arch();
        Optional<Arch> named = Arch.parse(parts[0]);
        if (named.isPresent()) {
            arch = named.get();
            next++;
            if (parts.length == 1) {
                return Optional.of(defaultSize.withArch(arch));
            }
        }
        String cpuPart = parts[next];
        Matcher cpu = CPU.matcher(cpuPart);
        if (!cpu.matches()) {
            if (MEMORY.matcher(cpuPart).matches()) {
                throw invalid(label, "the vCPU count must come before the memory");
            }
            if (cpuPart.isEmpty()) {
                throw invalid(label, "it has an empty part");
            }
            throw invalid(label, "'" + quote(cpuPart) + "' is " + (next == 0 ? "neither an arch nor " : "not ")
                    + "a vCPU count such as 4cpu");
        }
        next++;
        if (next == parts.length) {
            throw invalid(label, "the memory is missing after '" + cpuPart + "'");
        }
        String memoryPart = parts[next];
        Matcher memory = MEMORY.matcher(memoryPart);
        if (!memory.matches()) {
            throw invalid(label, "'" + quote(memoryPart) + "' is not a memory size such as 8gb");
        }
        next++;
        if (next < parts.length) {
            String rest = String.join("-", Arrays.copyOfRange(parts, next, parts.length));
            throw invalid(label, "'" + quote(rest) + "' follows the memory; nothing may");
        }
        long vcpus = count(cpu.group(1));
        long memoryGib = count(memory.group(1));
        if (vcpus < 1) {
            throw invalid(label, "the vCPU count must be at least 1");
        }
        if (vcpus > maxVcpus) {
            throw invalid(label, cpu.group(1) + " vCPUs is more than the maximum of " + maxVcpus);
        }
        if (memoryGib < 1) {
            throw invalid(label, "the memory must be at least 1 GiB");
        }
        if (memoryGib > maxMemoryGib) {
            throw invalid(label,
                    memory.group(1) + " GiB of memory is more than the maximum of " + maxMemoryGib + " GiB");
        }
        return Optional.of(Size.of((int) vcpus, memoryGib, defaultSize.diskGib(), arch));
    }

    /** A decimal count, saturated so that a label of many digits reads as "more than the maximum". */
    private static long count(String digits) {
        String significant = digits.replaceFirst("^0+(?=.)", "");
        return significant.length() > 12 ? Long.MAX_VALUE : Long.parseLong(significant);
    }

    private InvalidLabelException invalid(String label, String problem) {
        return new InvalidLabelException(label, "runs-on label '" + quote(label) + "' is not a valid " + prefix
                + " label: " + problem + "; expected " + prefix + ", " + prefix + "-<arch>, " + prefix
                + "-<N>cpu-<M>gb or " + prefix + "-<arch>-<N>cpu-<M>gb with arch x86_64, arm64 or any (e.g. "
                + prefix + "-4cpu-8gb, " + prefix + "-arm64-2cpu-4gb)");
    }

    /** A label or part of one, shortened so that an oversized label cannot flood a message or log. */
    private static String quote(String text) {
        return text.length() <= MAX_LABEL_LENGTH ? text : text.substring(0, MAX_LABEL_LENGTH) + "…";
    }
}
