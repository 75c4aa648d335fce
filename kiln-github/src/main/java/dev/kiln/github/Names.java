package dev.kiln.github;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.util.regex.Pattern;

/** GitHub's account, repository and runner names, checked before they go into a URL path. */
final class Names {
    private static final Pattern OWNER = Pattern.compile("[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})");
    private static final Pattern REPO = Pattern.compile("[A-Za-z0-9._-]{1,100}");
    /** Kiln's runner names; GitHub's own limit is not documented, 64 is what the runner's config accepts. */
    private static final Pattern RUNNER = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    private Names() {}

    static String checkOwner(String owner) {
        return check(owner, OWNER, "a GitHub account name");
    }

    static String checkRepo(String repo) {
        if (repo != null && (repo.equals(".") || repo.equals(".."))) {
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + repo + "' is not a repository name");
        }
        return check(repo, REPO, "a repository name");
    }

    static String checkRunner(String name) {
        return check(name, RUNNER, "a runner name (1 to 64 letters, digits, '.', '_' or '-')");
    }

    private static String check(String value, Pattern pattern, String what) {
        if (value == null || !pattern.matcher(value).matches()) {
            String shown = value == null ? "null" : value.length() > 60 ? value.substring(0, 60) + "…" : value;
            throw new KilnException(ErrorCode.INVALID_ARGUMENT, "'" + shown + "' is not " + what);
        }
        return value;
    }
}
