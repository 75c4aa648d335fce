package dev.kiln.server.dashboard;

import static org.assertj.core.api.Assertions.assertThat;

import dev.kiln.api.JobView;
import dev.kiln.core.JobState;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A job's page links to where the job lives at its provider: GitHub's run and job, GitLab's project, pipeline and job. */
class JobLinksTest {
    static JobView job(String kind) {
        return new JobView("j1", JobState.RUNNING, List.of(), "runner", 2, 4096, 20, "x86_64", "acme", "acme/widgets", 0,
                "h1", "vm-1", null, null, null, null, null, List.of(), kind, null);
    }

    @Test
    void aGitLabJobLinksToItsProjectPipelineAndJobOnTheConfiguredInstance() {
        JobView view = job("gitlab").withGitLab(new JobView.GitLabJob(77, 5, "acme/platform/widgets", 901L, "build",
                "running", "https://gitlab.example.org/prefix"));
        assertThat(JobData.links(view)).containsExactly(
                new JobData.Link("project acme/platform/widgets", "https://gitlab.example.org/prefix/acme/platform/widgets"),
                new JobData.Link("pipeline 901", "https://gitlab.example.org/prefix/acme/platform/widgets/-/pipelines/901"),
                new JobData.Link("GitLab job 77", "https://gitlab.example.org/prefix/acme/platform/widgets/-/jobs/77"));
    }

    @Test
    void aGitLabJobWhosePipelineIsNotKnownLinksToItsProjectAndJob() {
        JobView view = job("gitlab").withGitLab(new JobView.GitLabJob(77, 5, "acme/widgets", null, "build", "pending",
                "https://gitlab.example.org"));
        assertThat(JobData.links(view)).extracting(JobData.Link::href).containsExactly(
                "https://gitlab.example.org/acme/widgets", "https://gitlab.example.org/acme/widgets/-/jobs/77");
    }

    @Test
    void aGitHubJobLinksToItsRepositoryRunAndTheJobThatRan() {
        JobView view = job("github").withGitHub(new JobView.GitHubJob(10, 20, 3L, "acme/widgets", "ci", "build",
                List.of("kiln"), "kiln-vm-1", 11L, null, null, null));
        assertThat(JobData.links(view)).extracting(JobData.Link::href).containsExactly("https://github.com/acme/widgets",
                "https://github.com/acme/widgets/actions/runs/20", "https://github.com/acme/widgets/actions/runs/20/job/11");
    }
}
