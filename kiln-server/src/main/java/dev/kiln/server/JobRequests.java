package dev.kiln.server;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.JobRequest;
import dev.kiln.core.Arch;
import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import dev.kiln.core.Size;
import dev.kiln.core.SizeLabels;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** Checks a submitted job field by field and fills what it leaves out; the first problem is the answer. */
final class JobRequests {
    static final int MAX_ARGS = 256;
    static final int MAX_TEXT = 8192;
    static final int MAX_ENV = 64;
    static final int MAX_NAME = 256;
    static final long MIN_MEMORY_MIB = 128;
    private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");
    private static final Pattern IMAGE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,199}");

    private final SizeLabels labels;
    private final String defaultImage;
    private final Duration defaultTimeout;
    private final Duration maxTimeout;
    private final java.util.function.UnaryOperator<String> imageDigests;

    JobRequests(SizeLabels labels, String defaultImage, Duration defaultTimeout, Duration maxTimeout) {
        this(labels, defaultImage, defaultTimeout, maxTimeout, java.util.function.UnaryOperator.identity());
    }

    /**
     * @param imageDigests turns an image name into the digest of the server's image by that name (or
     *     leaves it as it is), so that a launch names exact bytes and every host runs the same image
     */
    JobRequests(SizeLabels labels, String defaultImage, Duration defaultTimeout, Duration maxTimeout,
            java.util.function.UnaryOperator<String> imageDigests) {
        this.imageDigests = requireNonNull(imageDigests, "imageDigests is null");
        this.labels = requireNonNull(labels, "labels is null");
        this.defaultImage = requireNonNull(defaultImage, "defaultImage is null");
        this.defaultTimeout = requireNonNull(defaultTimeout, "defaultTimeout is null");
        this.maxTimeout = requireNonNull(maxTimeout, "maxTimeout is null");
    }

    NewJob validate(JobRequest request) {
        if (request == null) {
            throw invalid("the body must be a job: {\"command\": [\"echo\", \"hi\"], ...}");
        }
        List<String> command = request.command();
        if (command == null || command.isEmpty()) {
            throw invalid("command is missing: give the program and its arguments as a list");
        }
        if (command.size() > MAX_ARGS) {
            throw invalid("command has " + command.size() + " arguments; at most " + MAX_ARGS + " are allowed");
        }
        for (String arg : command) {
            checkText("command argument", arg);
        }
        Map<String, String> env = request.env() == null ? Map.of() : request.env();
        if (env.size() > MAX_ENV) {
            throw invalid("env has " + env.size() + " variables; at most " + MAX_ENV + " are allowed");
        }
        env.forEach((name, value) -> {
            if (name == null || !ENV_NAME.matcher(name).matches()) {
                throw invalid("env name '" + shorten(String.valueOf(name)) + "' must be letters, digits and _, not starting with a digit");
            }
            checkText("env value of " + name, value);
        });
        String image = request.image() == null ? defaultImage : request.image();
        if (!IMAGE.matcher(image).matches()) {
            throw invalid("image '" + shorten(image) + "' must be a name or digest of letters, digits, '.', '_', ':' or '-'");
        }
        Size size = size(request);
        Duration timeout = defaultTimeout;
        if (request.timeoutSeconds() != null) {
            if (request.timeoutSeconds() < 1 || request.timeoutSeconds() > maxTimeout.toSeconds()) {
                throw invalid("timeoutSeconds must be from 1 to " + maxTimeout.toSeconds() + ", got "
                        + request.timeoutSeconds());
            }
            timeout = Duration.ofSeconds(request.timeoutSeconds());
        }
        String org = name("org", request.org());
        String repo = name("repo", request.repo());
        int priority = request.priority() == null ? 0 : request.priority();
        if (priority < -1000 || priority > 1000) {
            throw invalid("priority must be from -1000 to 1000, got " + priority);
        }
        return NewJob.local(command, env, imageDigests.apply(image), size, timeout, org, repo, priority,
                request.labels() == null ? List.of() : request.labels());
    }

    private Size size(JobRequest request) {
        Size base = labels.defaultSize();
        if (request.labels() != null && !request.labels().isEmpty()) {
            if (request.labels().size() > 32) {
                throw invalid("labels has " + request.labels().size() + " entries; at most 32 are allowed");
            }
            base = labels.sizeOf(request.labels()).orElseThrow(() -> invalid("none of the labels " + request.labels()
                    + " is a " + labels.prefix() + " label (e.g. " + labels.prefix() + "-4cpu-8gb)"));
        }
        int cpus = request.cpus() == null ? base.vcpus() : request.cpus();
        long memory = request.memoryMib() == null ? base.memoryMib() : request.memoryMib();
        int disk = request.diskGib() == null ? base.diskGib() : request.diskGib();
        Arch arch = base.arch();
        if (request.arch() != null) {
            arch = Arch.parse(request.arch()).orElseThrow(() -> invalid("arch '" + shorten(request.arch())
                    + "' is not x86_64, arm64 or any"));
        }
        if (cpus < 1 || cpus > SizeLabels.DEFAULT_MAX_VCPUS) {
            throw invalid("cpus must be from 1 to " + SizeLabels.DEFAULT_MAX_VCPUS + ", got " + cpus);
        }
        if (memory < MIN_MEMORY_MIB || memory > SizeLabels.DEFAULT_MAX_MEMORY_GIB * 1024) {
            throw invalid("memoryMib must be from " + MIN_MEMORY_MIB + " to " + SizeLabels.DEFAULT_MAX_MEMORY_GIB * 1024
                    + ", got " + memory);
        }
        if (disk < 1 || disk > 4096) {
            throw invalid("diskGib must be from 1 to 4096, got " + disk);
        }
        return new Size(cpus, memory, disk, arch);
    }

    private static String name(String what, String value) {
        if (value == null) {
            return "local";
        }
        if (value.isBlank() || value.length() > MAX_NAME) {
            throw invalid(what + " must be 1 to " + MAX_NAME + " characters and not blank");
        }
        checkText(what, value);
        return value;
    }

    private static void checkText(String what, String value) {
        if (value == null) {
            throw invalid(what + " is null");
        }
        if (value.length() > MAX_TEXT) {
            throw invalid(what + " is " + value.length() + " characters; at most " + MAX_TEXT + " are allowed");
        }
        if (value.indexOf('\0') >= 0) {
            throw invalid(what + " contains a NUL character");
        }
    }

    private static String shorten(String text) {
        return text.length() <= 64 ? text : text.substring(0, 64) + "…";
    }

    static KilnException invalid(String message) {
        return new KilnException(ErrorCode.INVALID_ARGUMENT, message);
    }
}
