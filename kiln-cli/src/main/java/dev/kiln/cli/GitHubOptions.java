package dev.kiln.cli;

import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.server.GitHubSettings;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.Optional;
import picocli.CommandLine.Option;

/** {@code --github-config FILE}: the GitHub App (GitHubConfig's keys; KILN_GITHUB_* in the environment win). */
final class GitHubOptions {
    @Option(names = "--github-config", paramLabel = "FILE", description = "the GitHub App's config (app-id,"
            + " private-key-file, webhook-secret-file, url, runner-group-id, allow, deny, org-cap.OWNER);"
            + " KILN_GITHUB_* variables override it")
    Path file;

    /** Whether GitHub is configured, by the file or by the environment alone. */
    boolean configured() {
        return file != null || System.getenv("KILN_GITHUB_APP_ID") != null;
    }

    /** The server's GitHub settings, or null when GitHub is not configured; the config is read and checked now. */
    GitHubSettings settings() {
        return configured() ? GitHubSettings.defaults(app()) : null;
    }

    /** What the start-up line adds when GitHub is served: where GitHub must deliver. */
    static String webhooksNote(GitHubSettings settings, java.net.URI server) {
        return settings == null ? "" : "; GitHub App " + settings.app().config().appId() + " webhooks on " + server + "/webhooks/github";
    }

    GitHubApp app() {
        GitHubConfig config = GitHubConfig.load(Optional.ofNullable(file), System.getenv());
        return new GitHubApp(config, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(),
                InstantSource.system(), dev.kiln.github.Sleeper.SYSTEM);
    }
}
