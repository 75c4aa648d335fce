package dev.kiln.core;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * What the providers' configs (GitHub's, GitLab's) share: a properties file read with the environment over it, its keys
 * checked (an unknown one named with a "did you mean"), secrets kept out of it and read from their own files or the
 * environment, and every problem listed at once in one error.
 */
public final class ConfigFile {
    private ConfigFile() {}

    /**
     * The file's values with the environment's over them; problems are added to {@code problems}.
     *
     * @param what whose config, for messages ({@code GitHub}, {@code GitLab})
     * @param variables environment variable → the key it sets
     * @param known which keys the file may hold
     * @param keys the keys as the messages list them ({@code org-cap.<owner>}: a placeholder in angle brackets)
     * @param secrets keys that must never sit in the file → the environment variable that may hold the secret itself
     * @throws KilnException {@link ErrorCode#INVALID_ARGUMENT} when the file cannot be read at all
     */
    public static Map<String, String> values(String what, Optional<Path> file, Map<String, String> env, Map<String, String> variables,
            Predicate<String> known, List<String> keys, Map<String, String> secrets, List<String> problems) {
        Map<String, String> values = new LinkedHashMap<>();
        if (file.isPresent()) {
            Properties properties = new Properties();
            try (Reader reader = Files.newBufferedReader(file.get(), StandardCharsets.UTF_8)) {
                properties.load(reader);
            } catch (IOException | IllegalArgumentException e) {
                throw new KilnException(ErrorCode.INVALID_ARGUMENT, "cannot read the " + what + " config " + file.get() + ": " + e.getMessage(), e);
            }
            for (String key : new TreeSet<>(properties.stringPropertyNames())) {
                if (secrets.containsKey(key)) {
                    problems.add(key + ": secrets must not sit in the config file; put it in a file named by " + key + "-file or in "
                            + secrets.get(key));
                } else if (known.test(key)) {
                    values.put(key, properties.getProperty(key).strip());
                } else {
                    problems.add("unknown key '" + shorten(key) + "'" + didYouMean(key, keys) + "; keys are " + keys);
                }
            }
        }
        variables.forEach((variable, key) -> {
            String value = env.get(variable);
            if (value != null && !value.isBlank()) {
                values.put(key, value.strip());
            }
        });
        return values;
    }

    /**
     * A secret: from the environment's {@code variable} if set, else from {@code file} (one trailing newline dropped);
     * null, with the problem added, when neither gives one.
     */
    public static String secret(String key, String file, String inEnv, String variable, String what, List<String> problems) {
        if (inEnv != null && !inEnv.isEmpty()) {
            return inEnv;
        }
        if (file == null) {
            problems.add(key + " is missing (" + what + "; or the value itself in " + variable + ")");
            return null;
        }
        try {
            String text = Files.readString(Path.of(file), StandardCharsets.UTF_8).replaceFirst("\\r?\\n$", "");
            if (!text.isEmpty()) {
                return text;
            }
            problems.add(key + ": " + file + " is empty");
        } catch (IOException e) {
            problems.add(key + ": cannot read " + file + " (" + e.getClass().getSimpleName() + ")");
        }
        return null;
    }

    /** @throws KilnException {@link ErrorCode#INVALID_ARGUMENT} listing every problem, if there is one */
    public static void check(String what, Optional<Path> file, List<String> problems) {
        if (!problems.isEmpty()) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "the " + what + " config (" + file.map(Path::toString).orElse("the environment")
                    + ") has " + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + ":\n  - " + String.join("\n  - ", problems));
        }
    }

    /** A value as a message quotes it: at most 60 characters. */
    public static String shorten(String text) {
        return text.length() <= 60 ? text : text.substring(0, 60) + "…";
    }

    private static String didYouMean(String key, List<String> keys) {
        // A key with a placeholder (org-cap.<owner>) is matched by its fixed part.
        Map<String, String> byStem = new LinkedHashMap<>();
        keys.forEach(k -> byStem.put(k.replaceAll("<[^>]*>", ""), k));
        return Spelling.nearest(key, List.copyOf(byStem.keySet())).map(k -> " (did you mean '" + byStem.get(k) + "'?)").orElse("");
    }
}
