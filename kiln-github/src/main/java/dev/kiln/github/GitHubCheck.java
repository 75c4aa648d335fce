package dev.kiln.github;

import static java.util.Objects.requireNonNull;

import dev.kiln.core.KilnException;
import java.util.ArrayList;
import java.util.List;

/**
 * What {@code kiln github check} reports: whether the App's credentials work against the API, where the
 * App is installed, and which permission or event subscription each installation lacks.
 *
 * <p>Needed (ci-protocols.md §2.4): Actions read (the {@code workflow_job} subscription, listing runs and
 * jobs), Metadata read, and for runners either Organization → Self-hosted runners write (organisation
 * runners) or Repository → Administration write (repository runners); the Workflow job event.
 */
public final class GitHubCheck {
    static final String ORG_RUNNERS = "organization_self_hosted_runners";
    static final String ADMINISTRATION = "administration";
    static final String ACTIONS = "actions";
    static final String METADATA = "metadata";
    static final String WORKFLOW_JOB = "workflow_job";

    /**
     * One installation's verdict.
     *
     * @param runnerScope {@code organization}, {@code repository} or {@code none}: where Kiln would register runners
     * @param repositories how many repositories its token sees, or -1 when the token could not be used
     * @param problems what is missing, each with what to do; empty when the installation is ready
     */
    public record InstallationReport(Installation installation, String runnerScope, int repositories, List<String> problems) {
        public InstallationReport {
            problems = List.copyOf(problems);
        }
    }

    /** The whole verdict; {@link #ok()} when the App and every installation are ready. */
    public record Report(AppInfo app, List<InstallationReport> installations, List<String> problems) {
        public Report {
            installations = List.copyOf(installations);
            problems = List.copyOf(problems);
        }

        public boolean ok() {
            return problems.isEmpty() && installations.stream().allMatch(i -> i.problems().isEmpty());
        }

        /** Lines for a terminal. */
        public String render() {
            StringBuilder out = new StringBuilder();
            out.append("App ").append(app.id()).append(" (").append(app.slug()).append(", owned by ").append(app.owner())
                    .append("): credentials accepted\n");
            problems.forEach(p -> out.append("  problem: ").append(p).append('\n'));
            for (InstallationReport i : installations) {
                out.append("installation ").append(i.installation().id()).append(" on ").append(i.installation().account())
                        .append(" (").append(i.installation().accountType()).append(", ").append(i.installation().repositorySelection())
                        .append(" repositories): runners at ").append(i.runnerScope()).append(" level, ")
                        .append(i.repositories() < 0 ? "token refused" : i.repositories() + " repositories visible")
                        .append(i.problems().isEmpty() ? ", ready" : "").append('\n');
                i.problems().forEach(p -> out.append("  missing: ").append(p).append('\n'));
            }
            out.append(ok() ? "ready\n" : "not ready\n");
            return out.toString();
        }
    }

    private final GitHubApp github;

    public GitHubCheck(GitHubApp github) {
        this.github = requireNonNull(github, "github is null");
    }

    /**
     * @throws KilnException when the App's own credentials are refused (401 names the App id and key) or
     *     GitHub cannot be reached
     */
    public Report run() {
        AppInfo app = github.app();
        List<String> problems = new ArrayList<>();
        if (!app.events().contains(WORKFLOW_JOB)) {
            problems.add("the App does not subscribe to the Workflow job event: tick it under Permissions & events → Subscribe to events");
        }
        List<Installation> installations = github.installations();
        if (installations.isEmpty()) {
            problems.add("the App is installed nowhere: install it on the organisations whose jobs Kiln should run");
        }
        List<InstallationReport> reports = new ArrayList<>();
        for (Installation installation : installations) {
            reports.add(check(installation));
        }
        return new Report(app, reports, problems);
    }

    private InstallationReport check(Installation installation) {
        List<String> problems = new ArrayList<>();
        if (installation.suspended()) {
            problems.add("the installation is suspended: unsuspend it in " + installation.account() + "'s settings → GitHub Apps");
        }
        if (!installation.has(ACTIONS, "read")) {
            problems.add("Repository → Actions: read (to receive workflow_job events and list queued jobs)");
        }
        if (!installation.has(METADATA, "read")) {
            problems.add("Repository → Metadata: read");
        }
        String scope;
        if (installation.isOrganization() && installation.has(ORG_RUNNERS, "write")) {
            scope = "organization";
        } else if (installation.has(ADMINISTRATION, "write")) {
            scope = "repository";
        } else {
            scope = "none";
            problems.add(installation.isOrganization()
                    ? "Organization → Self-hosted runners: write (or Repository → Administration: write for repository runners)"
                    : "Repository → Administration: write (to register runners on a user's repositories)");
        }
        if (!installation.events().contains(WORKFLOW_JOB)) {
            problems.add("the Workflow job event (accept the App's new permissions in " + installation.account() + "'s settings)");
        }
        int repositories = -1;
        if (!installation.suspended()) {
            try {
                repositories = github.repositories(installation.id()).size();
            } catch (GitHubApiException e) {
                problems.add("its token does not work: " + e.getMessage());
            }
        }
        return new InstallationReport(installation, scope, repositories, problems);
    }
}
