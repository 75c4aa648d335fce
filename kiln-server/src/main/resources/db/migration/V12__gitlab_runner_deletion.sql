-- Issue 20: replicas cleaning up at once delete each ended VM's GitLab runner once. A replica leases a deletion
-- (epoch ms until which it is its own) before it calls GitLab; a lease left by a killed replica runs out and
-- another replica deletes the runner.
ALTER TABLE gitlab_runners ADD COLUMN deleting_until BIGINT;
