package dev.kiln.gitlab;

import static java.util.Objects.requireNonNull;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;

/** A runner GitLab made for Kiln: its id (to delete it) and its {@code glrt-} token, shown once and never printed. */
public record CreatedRunner(long id, String token) {
    public CreatedRunner {
        requireNonNull(token, "token is null");
    }

    /**
     * What the runner VM gets on its config drive: {@code {"kind": "gitlab-runner", "url": …, "token": …}}, which the
     * guest (kiln-vm's RunnerStart) turns into {@code gitlab-runner run-single} with the URL and token in its
     * environment. {@code runnerUrl} is the instance as the VMs reach it.
     */
    public String credential(URI runnerUrl) {
        ObjectNode node = GitLabRest.JSON.createObjectNode();
        node.put("kind", "gitlab-runner");
        node.put("url", runnerUrl.toString());
        node.put("token", token);
        return node.toString();
    }

    @Override
    public String toString() {
        return "CreatedRunner[id=" + id + ", token=[secret]]";
    }
}
