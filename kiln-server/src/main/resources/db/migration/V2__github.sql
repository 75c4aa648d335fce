-- GitHub: webhook deliveries (stored before they are answered), the workflow jobs Kiln heard of, and
-- the JIT runners it registered. A Kiln job of kind 'github' is a runner demand for one queued job.

CREATE TABLE github_deliveries (
    id            VARCHAR(100) PRIMARY KEY,   -- X-GitHub-Delivery
    event         VARCHAR(64)  NOT NULL,
    action        VARCHAR(64),
    body          TEXT         NOT NULL,      -- the verified raw body
    received_at   BIGINT       NOT NULL,
    processed_at  BIGINT,
    outcome       TEXT
);
CREATE INDEX github_deliveries_unprocessed ON github_deliveries (processed_at, received_at);

CREATE TABLE github_jobs (
    id               BIGINT        PRIMARY KEY,   -- workflow_job.id
    run_id           BIGINT        NOT NULL,
    installation_id  BIGINT,
    owner            VARCHAR(64)   NOT NULL,
    repo             VARCHAR(128)  NOT NULL,
    workflow         VARCHAR(1024),
    name             VARCHAR(1024) NOT NULL,
    labels           TEXT          NOT NULL,
    status           VARCHAR(16)   NOT NULL,      -- waiting, queued, in_progress, completed: only forward
    conclusion       VARCHAR(32),
    runner_name      VARCHAR(64),
    created_at       BIGINT,
    started_at       BIGINT,
    completed_at     BIGINT,
    updated_at       BIGINT        NOT NULL
);

CREATE TABLE github_runners (
    vm_id            VARCHAR(40)  PRIMARY KEY,
    job_id           VARCHAR(40)  NOT NULL,       -- the Kiln job (demand)
    installation_id  BIGINT       NOT NULL,
    scope            VARCHAR(200) NOT NULL,       -- owner or owner/repo
    name             VARCHAR(64)  NOT NULL,
    runner_id        BIGINT       NOT NULL,
    jit_config       TEXT,                        -- AES-GCM sealed; removed once the VM ended
    minted_at        BIGINT       NOT NULL,
    took_job         BIGINT,                      -- the workflow job it took (in_progress)
    release          SMALLINT     NOT NULL DEFAULT 0,  -- its demand went away: delete it unless busy
    deleted          SMALLINT     NOT NULL DEFAULT 0
);
CREATE INDEX github_runners_by_name ON github_runners (name);

ALTER TABLE jobs ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'local';
ALTER TABLE jobs ADD COLUMN gh_job_id BIGINT;
ALTER TABLE jobs ADD COLUMN gh_ran_job_id BIGINT;
ALTER TABLE jobs ADD COLUMN gh_conclusion VARCHAR(32);
CREATE INDEX jobs_by_github_job ON jobs (gh_job_id);
