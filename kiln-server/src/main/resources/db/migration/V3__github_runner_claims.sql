-- A replica about to mint a VM's JIT config claims the VM here first, so that two replicas (or two syncs of
-- one host) never register two runners for one demand. The row goes once the runner is stored or the mint
-- failed; a claim whose replica died expires.

CREATE TABLE github_runner_claims (
    vm_id        VARCHAR(40) PRIMARY KEY,
    claimed_by   VARCHAR(40) NOT NULL,   -- the replica's RunnerLaunches
    expires_at   BIGINT      NOT NULL
);
