package dev.kiln.vm;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * What a runner VM's guest starts, chosen by the runner credential on its config drive (which the guest init
 * copies to {@code /run/kiln/runner/jitconfig}, readable by {@code runner} alone):
 * <ul>
 *   <li>a GitHub JIT config (base64): the image's actions runner, {@code run.sh --jitconfig}</li>
 *   <li>a GitLab runner credential, the JSON object {@code {"kind": "gitlab-runner", "url": …, "token": "glrt-…"}}:
 *       {@code gitlab-runner run-single} with the shell executor for one job, the URL and token handed over in
 *       its environment ({@code CI_SERVER_URL}, {@code CI_SERVER_TOKEN}), never on its command line, and the
 *       file removed before the runner starts so that the job cannot read it</li>
 * </ul>
 */
final class RunnerStart {
    static final String GITLAB_KIND = "gitlab-runner";
    /** The image's gitlab-runner; {@code kiln image build --gitlab-runner} installs it there. */
    static final String GITLAB_RUNNER = "/usr/local/bin/gitlab-runner";
    /** How long gitlab-runner waits for its job before it exits (the job is pending when its runner is made). */
    static final int GITLAB_WAIT_SECONDS = 600;
    private static final JsonFactory JSON = new JsonFactory();

    private RunnerStart() {}

    static String commandScript(String credential) {
        if (isGitLab(credential)) {
            return """
                    #!/bin/sh
                    cred=/run/kiln/runner/jitconfig
                    CI_SERVER_URL=$(jq -r .url "$cred") || exit 125
                    CI_SERVER_TOKEN=$(jq -r .token "$cred") || exit 125
                    RUNNER_NAME=$(hostname)
                    export CI_SERVER_URL CI_SERVER_TOKEN RUNNER_NAME
                    rm -f "$cred"
                    mkdir -p /run/kiln/scratch/work/builds
                    exec %s run-single --executor shell --shell bash --builds-dir /run/kiln/scratch/work/builds \\
                      --max-builds 1 --wait-timeout %d
                    """.formatted(GITLAB_RUNNER, GITLAB_WAIT_SECONDS);
        }
        return "#!/bin/sh\nexec %s/run.sh --jitconfig \"$(cat /run/kiln/runner/jitconfig)\"\n".formatted(GuestConfig.RUNNER_HOME);
    }

    /** Whether the credential is a JSON object whose {@code kind} is {@code gitlab-runner}. */
    static boolean isGitLab(String credential) {
        if (!credential.startsWith("{")) {
            return false;
        }
        try (JsonParser parser = JSON.createParser(credential)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String field = parser.currentName();
                JsonToken value = parser.nextToken();
                if (field.equals("kind")) {
                    return value == JsonToken.VALUE_STRING && parser.getText().equals(GITLAB_KIND);
                }
                parser.skipChildren();
            }
            return false;
        } catch (IOException e) {
            return false;
        }
    }
}
