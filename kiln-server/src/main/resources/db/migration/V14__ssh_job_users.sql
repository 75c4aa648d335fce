-- Issue 18: who besides the admins may open a debugging shell in a provider's job.
-- The login of the GitHub user who triggered the run (the workflow_job webhook's sender); null when unknown (a job
-- the reconciler found: GitHub's REST jobs do not say who triggered them).
ALTER TABLE github_jobs ADD COLUMN sender VARCHAR(100);
-- That user and the public keys their provider holds for them (authorized_keys lines, one a line), fetched when the
-- VM's runner is registered: the VM's sshd lets them in and the gateway lets them reach this job alone.
ALTER TABLE vms ADD COLUMN ssh_user VARCHAR(100);
ALTER TABLE vms ADD COLUMN ssh_user_keys TEXT;
