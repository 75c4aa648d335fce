-- Issue 20: providers are rooms. The runner credential a provider's VM launches with (a GitHub JIT config, a
-- GitLab runner token) is a column of the VM, sealed by its provider, so that the sync with agents reads it without
-- knowing whose it is; it is removed once the VM stops holding room. Claims to register a VM's runner are every
-- provider's (they were GitHub's).

ALTER TABLE vms ADD COLUMN credential TEXT;
UPDATE vms SET credential = (SELECT r.jit_config FROM github_runners r WHERE r.vm_id = vms.id);
ALTER TABLE github_runners DROP COLUMN jit_config;

CREATE TABLE launch_claims (
    vm_id        VARCHAR(40) PRIMARY KEY,
    claimed_by   VARCHAR(40) NOT NULL,   -- the replica's LaunchCredentials
    expires_at   BIGINT      NOT NULL
);
INSERT INTO launch_claims (vm_id, claimed_by, expires_at) SELECT vm_id, claimed_by, expires_at FROM github_runner_claims;
DROP TABLE github_runner_claims;

-- A GitHub demand's GitHub side leaves the jobs table, which every provider shares, for GitHub's own: the workflow
-- job it was made for, the one its runner took (in_progress), and GitHub's conclusion of that one.
CREATE TABLE github_demands (
    job_id      VARCHAR(40) PRIMARY KEY,   -- the Kiln job (demand)
    gh_job_id   BIGINT      NOT NULL,      -- the queued workflow_job it was made for
    ran_job_id  BIGINT,                    -- the workflow_job its runner took
    conclusion  VARCHAR(32)                -- GitHub's conclusion of that job
);
CREATE INDEX github_demands_by_job ON github_demands (gh_job_id);
INSERT INTO github_demands (job_id, gh_job_id, ran_job_id, conclusion)
    SELECT id, gh_job_id, gh_ran_job_id, gh_conclusion FROM jobs WHERE kind = 'github' AND gh_job_id IS NOT NULL;
DROP INDEX jobs_by_github_job;
ALTER TABLE jobs DROP COLUMN gh_job_id;
ALTER TABLE jobs DROP COLUMN gh_ran_job_id;
ALTER TABLE jobs DROP COLUMN gh_conclusion;
