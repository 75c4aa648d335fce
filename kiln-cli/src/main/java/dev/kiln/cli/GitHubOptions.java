package dev.kiln.cli;

import dev.kiln.github.GitHubApp;
import dev.kiln.github.GitHubConfig;
import dev.kiln.server.github.GitHubSettings;
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

    @Option(names = "--github-delivery-retention", paramLabel = "DAYS", description = "stored webhook deliveries are"
            + " removed this many days after they came (default: 14)")
    int deliveryRetentionDays = (int) GitHubSettings.DEFAULT_DELIVERY_RETENTION.toDays();

    /** Whether GitHub is configured, by the file or by the environment alone. */
    boolean configured() {
        return file != null || System.getenv("KILN_GITHUB_APP_ID") != null;
    }

    /** The server's GitHub settings, or null when GitHub is not configured; the config is read and checked now. */
    GitHubSettings settings() {
        if (!configured()) {
            return null;
        }
        if (deliveryRetentionDays < 1 || deliveryRetentionDays > 3650) {
            throw new dev.kiln.core.KilnException(dev.kiln.core.ErrorCode.INVALID_ARGUMENT, "--github-delivery-retention must be"
                    + " 1 to 3650 days, got " + deliveryRetentionDays);
        }
        return GitHubSettings.defaults(app()).withDeliveryRetention(Duration.ofDays(deliveryRetentionDays));
    }

    /** What the start-up line adds when GitHub is served: where GitHub must deliver. */
    static String webhooksNote(GitHubSettings settings, java.net.URI server) {
        return settings == null ? "" : "; GitHub App " + settings.app().config().appId() + " webhooks on " + server + "/webhooks/github";
    }

    GitHubApp app() {
        GitHubConfig config = GitHubConfig.load(Optional.ofNullable(file), System.getenv());
        return new GitHubApp(config, HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(),
                InstantSource.system(), dev.kiln.core.Sleeper.SYSTEM);
    }
}
