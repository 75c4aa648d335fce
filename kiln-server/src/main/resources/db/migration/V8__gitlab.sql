-- Issue 20: GitLab as a provider, in tables of its own (the jobs table knows no provider).
-- Job Hooks, kept before they are answered and deduplicated by their Idempotency-Key (the same for every attempt
-- of one event; else X-Gitlab-Event-UUID, else the body's SHA-256).
CREATE TABLE gitlab_hooks (
    id           VARCHAR(100) PRIMARY KEY,
    event        VARCHAR(100) NOT NULL,
    body         TEXT         NOT NULL,
    received_at  BIGINT       NOT NULL,
    processed_at BIGINT,
    outcome      TEXT
);
CREATE INDEX gitlab_hooks_unprocessed ON gitlab_hooks (processed_at, received_at);

-- GitLab jobs with Kiln's tags, and the demand (a Kiln job of kind gitlab) each made: one while GitLab says the
-- job is pending, whatever became of it.
CREATE TABLE gitlab_jobs (
    id           BIGINT       PRIMARY KEY,   -- GitLab's job id (build_id)
    project_id   BIGINT       NOT NULL,
    project      VARCHAR(255) NOT NULL,      -- its path, acme/widgets
    name         VARCHAR(255) NOT NULL,
    tags         TEXT         NOT NULL,      -- JSON array, GitLab's tag_list
    status       VARCHAR(40)  NOT NULL,      -- GitLab's status as last heard
    demand       VARCHAR(40)  NOT NULL UNIQUE,
    created_at   BIGINT       NOT NULL,
    updated_at   BIGINT       NOT NULL
);

-- The runner made for a demand's VM (POST /user/runners), deleted from GitLab once the VM ends.
CREATE TABLE gitlab_runners (
    vm_id        VARCHAR(40)  PRIMARY KEY,
    demand       VARCHAR(40)  NOT NULL,
    runner_id    BIGINT       NOT NULL,
    project_id   BIGINT       NOT NULL,
    took_job     BIGINT,                     -- the GitLab job it took (a Job Hook's runner.id says)
    created_at   BIGINT       NOT NULL,
    deleted_at   BIGINT
);
CREATE INDEX gitlab_runners_live ON gitlab_runners (deleted_at);
CREATE INDEX gitlab_runners_by_runner ON gitlab_runners (runner_id);
