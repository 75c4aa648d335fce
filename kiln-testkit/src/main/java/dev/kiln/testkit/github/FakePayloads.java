package dev.kiln.testkit.github;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/** JSON shapes of GitHub's objects (ci-protocols.md §1.2, §2.2, §3.4, §4.1), as the fake writes them. */
final class FakePayloads {
    private FakePayloads() {}

    static ObjectNode job(FakeGitHub github, FakeState.Job job) {
        String repoApi = github.url() + "/repos/" + job.run.repo.fullName();
        ObjectNode node = FakeGitHub.JSON.createObjectNode();
        node.put("id", job.id);
        node.put("run_id", job.run.id);
        node.put("run_attempt", 1);
        node.put("run_url", repoApi + "/actions/runs/" + job.run.id);
        node.put("node_id", "CR_kwDO" + Long.toHexString(job.id));
        node.put("head_sha", "9f2c3a71d0b4c2e8a1f6b3d5c7e9a0b1c2d3e4f5");
        node.put("head_branch", "main");
        node.put("workflow_name", "ci");
        node.put("name", job.name);
        node.put("url", repoApi + "/actions/jobs/" + job.id);
        node.put("html_url", github.url() + "/" + job.run.repo.fullName() + "/actions/runs/" + job.run.id + "/job/" + job.id);
        node.put("check_run_url", repoApi + "/check-runs/" + job.id);
        node.put("status", job.status);
        putNullable(node, "conclusion", job.conclusion);
        node.put("created_at", job.createdAt.toString());
        node.put("started_at", job.startedAt.toString());
        putTime(node, "completed_at", job.completedAt);
        ArrayNode labels = node.putArray("labels");
        job.labels.forEach(labels::add);
        if (job.runner == null) {
            node.putNull("runner_id");
            node.putNull("runner_name");
            node.putNull("runner_group_id");
            node.putNull("runner_group_name");
        } else {
            node.put("runner_id", job.runner.id);
            node.put("runner_name", job.runner.name);
            node.put("runner_group_id", job.runner.groupId);
            node.put("runner_group_name", job.runner.groupName);
        }
        node.putArray("steps");
        return node;
    }

    static ObjectNode run(FakeGitHub github, FakeState.Run run) {
        ObjectNode node = FakeGitHub.JSON.createObjectNode();
        node.put("id", run.id);
        node.put("name", "ci");
        node.put("run_attempt", 1);
        node.put("event", "push");
        node.put("status", run.status());
        putNullable(node, "conclusion", run.conclusion());
        node.put("head_branch", "main");
        node.put("created_at", run.createdAt.toString());
        node.put("jobs_url", github.url() + "/repos/" + run.repo.fullName() + "/actions/runs/" + run.id + "/jobs");
        return node;
    }

    static ObjectNode repository(FakeGitHub github, FakeState.Repo repo) {
        ObjectNode node = FakeGitHub.JSON.createObjectNode();
        node.put("id", repo.id());
        node.put("node_id", "R_kgDO" + Long.toHexString(repo.id()));
        node.put("name", repo.name());
        node.put("full_name", repo.fullName());
        node.put("private", true);
        ObjectNode owner = node.putObject("owner");
        owner.put("login", repo.owner());
        owner.put("id", Math.abs(repo.owner().toLowerCase(java.util.Locale.ROOT).hashCode()));
        FakeState.Installation installation;
        synchronized (github.lock) {
            installation = github.state.installationOn(repo.owner());
        }
        owner.put("type", installation == null ? "User" : installation.type);
        node.put("url", github.url() + "/repos/" + repo.fullName());
        return node;
    }

    static ObjectNode runner(FakeState.Runner runner) {
        ObjectNode node = FakeGitHub.JSON.createObjectNode();
        node.put("id", runner.id);
        node.put("name", runner.name);
        node.put("os", "Linux");
        node.put("status", runner.online ? "online" : "offline");
        node.put("busy", runner.busy());
        node.put("ephemeral", true);
        node.put("runner_group_id", runner.groupId);
        ArrayNode labels = node.putArray("labels");
        for (String label : runner.labels) {
            ObjectNode l = labels.addObject();
            l.put("id", 0);
            l.put("name", label);
            l.put("type", "custom");
        }
        return node;
    }

    static ObjectNode installation(FakeGitHub github, FakeState.Installation installation) {
        ObjectNode node = FakeGitHub.JSON.createObjectNode();
        node.put("id", installation.id);
        ObjectNode account = node.putObject("account");
        account.put("login", installation.account);
        account.put("id", Math.abs(installation.account.toLowerCase(java.util.Locale.ROOT).hashCode()));
        account.put("type", installation.type);
        node.put("app_id", github.appId);
        node.put("client_id", github.clientId);
        node.put("target_type", installation.type);
        node.put("target_id", account.get("id").asLong());
        node.put("repository_selection", "all");
        node.put("access_tokens_url", github.url() + "/app/installations/" + installation.id + "/access_tokens");
        ObjectNode permissions = node.putObject("permissions");
        installation.permissions.forEach(permissions::put);
        ArrayNode events = node.putArray("events");
        installation.events.forEach(events::add);
        if (installation.suspended) {
            node.put("suspended_at", github.clock.instant().toString());
        } else {
            node.putNull("suspended_at");
        }
        return node;
    }

    private static void putNullable(ObjectNode node, String field, String value) {
        if (value == null) {
            node.putNull(field);
        } else {
            node.put(field, value);
        }
    }

    private static void putTime(ObjectNode node, String field, Instant value) {
        putNullable(node, field, value == null ? null : value.toString());
    }
}
