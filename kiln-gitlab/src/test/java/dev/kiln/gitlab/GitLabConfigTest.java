package dev.kiln.gitlab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GitLabConfigTest {
    @TempDir
    Path dir;

    @Test
    void aFileWithSecretsInFilesAndTheEnvironmentOnTopMakesAConfigThatNeverPrintsThem() throws Exception {
        Files.writeString(dir.resolve("token"), "glpat-very-secret\n");
        Path file = dir.resolve("gitlab.properties");
        Files.writeString(file, "url=https://gitlab.example.com/\ntoken-file=" + dir.resolve("token") + "\nprojects=Acme/Widgets, acme/gadgets\ngroups=acme/platform\n");
        GitLabConfig config = GitLabConfig.load(Optional.of(file), Map.of("KILN_GITLAB_WEBHOOK_SECRET", "hook-secret",
                "KILN_GITLAB_RUNNER_URL", "https://gitlab.internal"));
        assertThat(config.url()).isEqualTo(URI.create("https://gitlab.example.com"));
        assertThat(config.apiUrl()).isEqualTo(URI.create("https://gitlab.example.com/api/v4"));
        assertThat(config.runnerUrl()).isEqualTo(URI.create("https://gitlab.internal"));
        assertThat(config.token()).isEqualTo("glpat-very-secret");
        assertThat(config.projects()).containsExactly("acme/widgets", "acme/gadgets");
        assertThat(config.toString()).doesNotContain("glpat-very-secret", "hook-secret");
        assertThat(config.serves("acme/widgets")).isTrue();
        assertThat(config.serves("ACME/platform/api")).as("a project in a served group").isTrue();
        assertThat(config.serves("acme/platformer/api")).isFalse();
        assertThat(config.serves("acme/other")).isFalse();
    }

    @Test
    void everyProblemIsListedAtOnceWithoutTheSecrets() throws Exception {
        Path file = dir.resolve("gitlab.properties");
        Files.writeString(file, "url=http://gitlab.example.com\ntoken=glpat-in-the-file\nprojets=acme/x\nprojects=acme\ngroups=-bad\n"
                + "webhook-secret-file=" + dir.resolve("missing") + "\n");
        assertThatThrownBy(() -> GitLabConfig.load(Optional.of(file), Map.of()))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("has 8 problems")
                .hasMessageContaining("token: secrets must not sit in the config file; put it in a file named by token-file or in KILN_GITLAB_TOKEN")
                .hasMessageContaining("unknown key 'projets' (did you mean 'projects'?)")
                .hasMessageContaining("url: 'http://gitlab.example.com' is not an https URL")
                .hasMessageContaining("token-file is missing")
                .hasMessageContaining("webhook-secret-file: cannot read " + dir.resolve("missing"))
                .hasMessageContaining("projects: 'acme' is not a GitLab project path (acme/widgets)")
                .hasMessageContaining("groups: '-bad' is not a GitLab group path")
                .hasMessageContaining("no project or group to serve")
                .hasMessageNotContaining("glpat-in-the-file");
    }

    @Test
    void theEnvironmentAloneIsEnough() {
        GitLabConfig config = GitLabConfig.load(Optional.empty(), Map.of("KILN_GITLAB_URL", "http://127.0.0.1:8080",
                "KILN_GITLAB_TOKEN", "glpat-x", "KILN_GITLAB_WEBHOOK_SECRET", "s", "KILN_GITLAB_GROUPS", "acme"));
        assertThat(config.runnerUrl()).isEqualTo(config.url());
        assertThat(config.groups()).isEqualTo(List.of("acme"));
    }
}
