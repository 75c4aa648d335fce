package dev.kiln.cli;

import dev.kiln.core.Sleeper;
import dev.kiln.gitlab.GitLabClient;
import dev.kiln.gitlab.GitLabConfig;
import dev.kiln.server.gitlab.GitLabSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --gitlab-config FILE}: the GitLab instance served (GitLabConfig's keys; KILN_GITLAB_* in the environment win). */
final class GitLabOptions {
    @Option(names = "--gitlab-config", paramLabel = "FILE", description = "the GitLab instance's config (url, runner-url,"
            + " token-file, webhook-secret-file, projects, groups); KILN_GITLAB_* variables override it")
    Path file;

    /** Whether GitLab is configured, by the file or by the environment alone. */
    boolean configured() {
        return file != null || System.getenv("KILN_GITLAB_URL") != null;
    }

    /** The server's GitLab settings, or null when GitLab is not configured; the config is read and checked now. */
    GitLabSettings settings() {
        if (!configured()) {
            return null;
        }
        GitLabConfig config = GitLabConfig.load(Optional.ofNullable(file), System.getenv());
        return GitLabSettings.defaults(config, new GitLabClient(config,
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(), Sleeper.SYSTEM));
    }

    /** What the start-up line adds when GitLab is served: where its Job Hooks must go. */
    static String webhooksNote(GitLabSettings settings, URI server) {
        return settings == null ? "" : "; GitLab " + settings.config().url() + " Job Hooks on " + server + "/webhooks/gitlab";
    }
}
