-- Issue 18: debugging shells through the server's SSH gateway.
-- The public host key of a VM's sshd, made by its host before the boot and reported by its agent: the gateway (and
-- `kiln ssh`) verify the VM's sshd with it, never trusting it on first use.
ALTER TABLE vms ADD COLUMN ssh_host_key TEXT;

-- Every session through the gateway: who (the key's user and fingerprint), which job and VM, from where, when and
-- how long (ended_at stays null while it lasts).
CREATE TABLE ssh_sessions (
    id               VARCHAR(40)  PRIMARY KEY,
    job_id           VARCHAR(40)  NOT NULL,
    vm_id            VARCHAR(40)  NOT NULL,
    user_name        VARCHAR(100) NOT NULL,
    key_fingerprint  VARCHAR(100) NOT NULL,
    remote_address   VARCHAR(100) NOT NULL,
    started_at       BIGINT       NOT NULL,
    ended_at         BIGINT,
    end_reason       TEXT
);
CREATE INDEX ssh_sessions_by_job ON ssh_sessions (job_id, started_at);
