package dev.kiln.github;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.ErrorCode;
import dev.kiln.core.KilnException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GitHubConfigTest {
    private static final String SECRET = "It's a Secret to Everybody";

    @TempDir
    Path dir;

    @Test
    void loadsAPkcs1KeyAsGitHubGivesItAndASecretFileWithAllKeys() throws Exception {
        Path key = TestKeys.write(dir, "app.pem", TestKeys.pkcs1Pem(TestKeys.APP));
        Path secret = TestKeys.write(dir, "secret", SECRET + "\n");
        Path file = TestKeys.write(dir, "github.properties", """
                app-id = 12345
                private-key-file = %s
                webhook-secret-file = %s
                url = https://ghe.example.com/
                runner-group-id = 7
                allow = acme, Other/Widgets
                deny = acme/secret
                org-cap.acme = 20
                """.formatted(key, secret));

        GitHubConfig config = GitHubConfig.load(Optional.of(file), Map.of());

        assertThat(config.appId()).isEqualTo(12345);
        assertThat(config.privateKey().getEncoded()).isEqualTo(TestKeys.APP.getPrivate().getEncoded());
        assertThat(config.apiUrl()).isEqualTo(URI.create("https://ghe.example.com/api/v3"));
        assertThat(config.webUrl()).isEqualTo(URI.create("https://ghe.example.com"));
        assertThat(config.runnerGroupId()).isEqualTo(7);
        assertThat(config.allows("acme", "widgets")).isTrue();
        assertThat(config.allows("ACME", "Secret")).isFalse();
        assertThat(config.allows("other", "widgets")).isTrue();
        assertThat(config.allows("other", "gadgets")).isFalse();
        assertThat(config.capFor("Acme")).hasValue(20);
        assertThat(config.capFor("other")).isEmpty();
        assertThat(new WebhookVerifier(config.webhookSecret()).sign("Hello, World!".getBytes()))
                .isEqualTo("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
        assertThat(config.toString()).doesNotContain(SECRET).contains("[secret]").doesNotContain("MII");
    }

    @Test
    void loadsAPkcs8KeyAndTheSecretFromTheEnvironmentWhichWinsOverTheFile() throws Exception {
        Path key = TestKeys.write(dir, "app.pem", TestKeys.pkcs8Pem(TestKeys.APP));

        GitHubConfig config = GitHubConfig.load(Optional.empty(), Map.of("KILN_GITHUB_APP_ID", "99",
                "KILN_GITHUB_PRIVATE_KEY_FILE", key.toString(), "KILN_GITHUB_WEBHOOK_SECRET", SECRET));

        assertThat(config.appId()).isEqualTo(99);
        assertThat(config.apiUrl()).isEqualTo(GitHubConfig.GITHUB_COM_API);
        assertThat(config.runnerGroupId()).isEqualTo(1);
        assertThat(config.privateKey().getEncoded()).isEqualTo(TestKeys.APP.getPrivate().getEncoded());
        assertThat(config.allows("anyone", "anything")).isTrue();
    }

    @Test
    void listsEveryProblemAtOnceWithHintsAndWithoutTheSecret() throws Exception {
        Path notAKey = TestKeys.write(dir, "bad.pem", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        Path file = TestKeys.write(dir, "github.properties", """
                app-id = twelve
                private-key-file = %s
                webhook-secret = %s
                runner-grup-id = 3
                allow = acme/, ok-org
                org-cap.acme = -1
                url = ftp://example.com
                """.formatted(notAKey, SECRET));

        assertThatThrownBy(() -> GitHubConfig.load(Optional.of(file), Map.of()))
                .isInstanceOfSatisfying(KilnException.class, e -> assertThat(e.code()).isEqualTo(ErrorCode.INVALID_ARGUMENT))
                .hasMessageContaining("app-id: 'twelve' is not a positive integer")
                .hasMessageContaining("private-key-file: " + notAKey + " holds a PEM block that is not an RSA private key")
                .hasMessageContaining("webhook-secret: secrets must not sit in the config file; put it in a file named by webhook-secret-file or in KILN_GITHUB_WEBHOOK_SECRET")
                .hasMessageContaining("unknown key 'runner-grup-id' (did you mean 'runner-group-id'?)")
                .hasMessageContaining("allow: 'acme/' is neither an owner")
                .hasMessageContaining("org-cap.acme: '-1' is not a positive integer")
                .hasMessageContaining("url: 'ftp://example.com' is not an https URL")
                .hasMessageContaining("webhook-secret-file is missing (the secret entered in the App's webhook settings; or the value itself in KILN_GITHUB_WEBHOOK_SECRET)")
                .hasMessageContaining("8 problems")
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain(SECRET));
    }

    @Test
    void namesWhatIsMissingWhenNothingIsGiven() {
        assertThatThrownBy(() -> GitHubConfig.load(Optional.empty(), Map.of()))
                .hasMessageContaining("app-id is missing").hasMessageContaining("private-key-file is missing")
                .hasMessageContaining("webhook-secret-file is missing (the secret entered in the App's webhook settings; or the value itself in KILN_GITHUB_WEBHOOK_SECRET)").hasMessageContaining("3 problems");
    }

    @Test
    void refusesAnEncryptedKeyAndAFileWithNoKey() throws Exception {
        Path encrypted = TestKeys.write(dir, "enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n");
        Path empty = TestKeys.write(dir, "empty.pem", "nothing here");
        assertThatThrownBy(() -> PemKeys.parse(Files.readString(encrypted), "enc.pem")).hasMessageContaining("encrypted");
        assertThatThrownBy(() -> PemKeys.parse(Files.readString(empty), "empty.pem")).hasMessageContaining("holds no PEM private key");
    }
}
