package dev.kiln.server.dashboard;

import static java.util.Objects.requireNonNull;

import dev.kiln.api.JobEvent;
import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import dev.kiln.server.ControlPlane;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A job's page: the job, and its timeline as steps (queued → scheduled → starting (booting) → running → its end), each
 * with how long it lasted as far as the store knows: until the next step, or until now for the one it is in.
 */
final class JobData {
    private final ControlPlane control;

    JobData(ControlPlane control) {
        this.control = requireNonNull(control, "control is null");
    }

    /**
     * @param seconds how long the step lasted; for the step the job is in (not an end), how long so far
     * @param notes what happened during the step (a retried launch, a wait for a host), oldest first
     */
    record Step(JobState state, String at, Double seconds, boolean current, List<String> notes) {}

    record Link(String title, String href) {}

    record Job(String now, JobView job, String name, List<String> labels, List<Step> steps, List<Link> links) {}

    Job read(String id) {
        JobView job = control.job(id);
        long now = control.clock().millis();
        String labels = control.db().read(tx -> tx.queryOne("SELECT labels FROM jobs WHERE id = ?", row -> row.getString(1), id))
                .orElse("");
        return new Job(Instant.ofEpochMilli(now).toString(), job, JobsData.name(job), JobsData.labels(labels),
                steps(job.timeline(), job.state(), now), links(job));
    }

    static List<Step> steps(List<JobEvent> timeline, JobState state, long now) {
        record Open(JobState state, long at, List<String> notes) {}
        List<Open> open = new ArrayList<>();
        for (JobEvent event : timeline) {
            long at = Instant.parse(event.at()).toEpochMilli();
            if (!open.isEmpty() && open.getLast().state() == event.state()) {
                if (event.detail() != null) {
                    open.getLast().notes().add(event.detail());
                }
                continue;
            }
            List<String> notes = new ArrayList<>();
            if (event.detail() != null) {
                notes.add(event.detail());
            }
            open.add(new Open(event.state(), at, notes));
        }
        List<Step> steps = new ArrayList<>();
        for (int i = 0; i < open.size(); i++) {
            Open step = open.get(i);
            boolean last = i == open.size() - 1;
            // A Double throughout: a ternary of a double and a null would unbox the null.
            Double seconds = !last ? Double.valueOf((open.get(i + 1).at() - step.at()) / 1000.0)
                    : step.state().terminal() ? null : Double.valueOf(Math.max(0, now - step.at()) / 1000.0);
            steps.add(new Step(step.state(), Instant.ofEpochMilli(step.at()).toString(), seconds,
                    last && !state.terminal(), List.copyOf(step.notes())));
        }
        return steps;
    }

    /** Where the job lives at its provider: GitHub's run and job pages, or GitLab's project, pipeline and job pages. */
    static List<Link> links(JobView job) {
        List<Link> links = new ArrayList<>();
        JobView.GitHubJob github = job.github();
        if (github != null && github.repository() != null) {
            String repo = "https://github.com/" + path(github.repository());
            links.add(new Link("repository " + github.repository(), repo));
            if (github.runId() > 0) {
                long shown = github.ranJobId() != null ? github.ranJobId() : github.jobId();
                links.add(new Link("workflow run " + github.runId(), repo + "/actions/runs/" + github.runId()));
                links.add(new Link("GitHub job " + shown, repo + "/actions/runs/" + github.runId() + "/job/" + shown));
            }
        }
        JobView.GitLabJob gitlab = job.gitlab();
        if (gitlab != null && gitlab.project() != null && gitlab.webUrl() != null) {
            String project = gitlab.webUrl() + "/" + projectPath(gitlab.project());
            links.add(new Link("project " + gitlab.project(), project));
            if (gitlab.pipelineId() != null) {
                links.add(new Link("pipeline " + gitlab.pipelineId(), project + "/-/pipelines/" + gitlab.pipelineId()));
            }
            links.add(new Link("GitLab job " + gitlab.jobId(), project + "/-/jobs/" + gitlab.jobId()));
        }
        return links;
    }

    /** A GitLab project's path ({@code group/subgroup/project}) with each part URL-encoded. */
    private static String projectPath(String project) {
        return java.util.Arrays.stream(project.split("/", -1)).map(p -> URLEncoder.encode(p, StandardCharsets.UTF_8))
                .collect(java.util.stream.Collectors.joining("/"));
    }

    /** {@code owner/repo} with each part URL-encoded. */
    private static String path(String repository) {
        int slash = repository.indexOf('/');
        return slash < 0 ? URLEncoder.encode(repository, StandardCharsets.UTF_8)
                : URLEncoder.encode(repository.substring(0, slash), StandardCharsets.UTF_8) + "/"
                        + URLEncoder.encode(repository.substring(slash + 1), StandardCharsets.UTF_8);
    }
}
