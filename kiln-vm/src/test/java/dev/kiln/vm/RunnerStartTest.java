package dev.kiln.vm;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RunnerStartTest {
    static final String GITLAB = "{\"kind\": \"gitlab-runner\", \"url\": \"https://gitlab.example.com\", \"token\": \"glrt-secret-123\"}";

    @Test
    void aGitLabCredentialStartsGitlabRunnerRunSingleWithTheTokenOnlyInItsEnvironment() {
        assertThat(RunnerStart.isGitLab(GITLAB)).isTrue();
        String script = RunnerStart.commandScript(GITLAB);
        assertThat(script).contains("exec /usr/local/bin/gitlab-runner run-single --executor shell --shell bash",
                "--max-builds 1 --wait-timeout 600", "export CI_SERVER_URL CI_SERVER_TOKEN", "rm -f \"$cred\"");
        assertThat(script).doesNotContain("glrt-secret-123", "gitlab.example.com");
        assertThat(script.indexOf("rm -f")).isLessThan(script.indexOf("exec "));
    }

    @Test
    void aGitHubJitConfigOrAnythingElseStartsTheActionsRunner() {
        String github = "eyIucnVubmVyIjogImV5SmhaMlZ1ZEVsa0lqb2dOMzA9In0=";
        assertThat(RunnerStart.commandScript(github))
                .isEqualTo("#!/bin/sh\nexec /home/runner/actions-runner/run.sh --jitconfig \"$(cat /run/kiln/runner/jitconfig)\"\n");
        for (String other : new String[] {github, "{\"kind\": \"github\"}", "{\"url\": \"x\"}", "{\"kind\": 3}", "{broken", "[]"}) {
            assertThat(RunnerStart.isGitLab(other)).as(other).isFalse();
        }
        assertThat(RunnerStart.isGitLab("{\"url\": {\"a\": [1]}, \"kind\": \"gitlab-runner\"}")).isTrue();
    }
}
