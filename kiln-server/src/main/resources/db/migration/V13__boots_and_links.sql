-- Issue 16: what /metrics and a job's page still lacked.
-- A VM's boot as its host reports it: the image digest it booted, how long from the VMM's start to the guest's ready
-- marker, and when each boot phase was reached (both in ms). Written once, from the first report that carries them, so
-- that the boot histograms /metrics computes from the store count each booted VM once, the same on every replica.
ALTER TABLE vms ADD COLUMN image_digest VARCHAR(71);
ALTER TABLE vms ADD COLUMN boot_ms BIGINT;
CREATE TABLE vm_boot_phases (
    vm_id   VARCHAR(40) NOT NULL,
    phase   VARCHAR(32) NOT NULL,
    at_ms   BIGINT      NOT NULL,
    PRIMARY KEY (vm_id, phase)
);
-- How many VMs' resources the host's agent failed to remove, counted since the agent's start (a counter that starts
-- again at 0 when the agent restarts, as Prometheus' counters may).
ALTER TABLE hosts ADD COLUMN cleanup_failures BIGINT NOT NULL DEFAULT 0;
-- A GitLab job's pipeline, which its page links to (Job Hooks carry pipeline_id, the jobs API pipeline.id).
ALTER TABLE gitlab_jobs ADD COLUMN pipeline_id BIGINT;
