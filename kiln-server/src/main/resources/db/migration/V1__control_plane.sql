-- Kiln's control plane. Portable between SQLite and PostgreSQL: times are epoch milliseconds,
-- flags are 0/1 SMALLINTs, lists and maps are JSON text.

CREATE TABLE hosts (
    name            VARCHAR(64)  PRIMARY KEY,
    enrolment_hash  VARCHAR(64),
    token_hash      VARCHAR(64),
    draining        SMALLINT     NOT NULL DEFAULT 0,
    offline         SMALLINT     NOT NULL DEFAULT 0,
    arch            VARCHAR(16),
    vcpus           INTEGER,
    memory_mib      BIGINT,
    disk_gib        INTEGER,
    version         VARCHAR(64),
    boot_id         VARCHAR(64),
    report_seq      BIGINT       NOT NULL DEFAULT -1,
    generation      BIGINT       NOT NULL DEFAULT 0,
    last_seen       BIGINT,
    created_at      BIGINT       NOT NULL
);
CREATE UNIQUE INDEX hosts_by_token ON hosts (token_hash);
CREATE UNIQUE INDEX hosts_by_enrolment ON hosts (enrolment_hash);

CREATE TABLE jobs (
    id          VARCHAR(40)  PRIMARY KEY,
    seq         BIGINT       NOT NULL,
    state       VARCHAR(16)  NOT NULL,
    command     TEXT         NOT NULL,
    env         TEXT         NOT NULL,
    image       VARCHAR(200) NOT NULL,
    cpus        INTEGER      NOT NULL,
    memory_mib  BIGINT       NOT NULL,
    disk_gib    INTEGER      NOT NULL,
    arch        VARCHAR(16)  NOT NULL,
    timeout_s   BIGINT       NOT NULL,
    org         VARCHAR(256) NOT NULL,
    repo        VARCHAR(256) NOT NULL,
    priority    INTEGER      NOT NULL,
    host        VARCHAR(64),
    vm          VARCHAR(40),
    exit_code   INTEGER,
    error_code  VARCHAR(40),
    detail      TEXT,
    queued_at   BIGINT       NOT NULL,
    created_at  BIGINT       NOT NULL,
    updated_at  BIGINT       NOT NULL
);
CREATE INDEX jobs_by_state ON jobs (state, seq);
CREATE INDEX jobs_by_created ON jobs (created_at);

CREATE TABLE job_events (
    job_id  VARCHAR(40) NOT NULL,
    n       INTEGER     NOT NULL,
    state   VARCHAR(16) NOT NULL,
    at      BIGINT      NOT NULL,
    detail  TEXT,
    PRIMARY KEY (job_id, n)
);

CREATE TABLE vms (
    id          VARCHAR(40) PRIMARY KEY,
    job_id      VARCHAR(40) NOT NULL,
    host        VARCHAR(64) NOT NULL,
    state       VARCHAR(16) NOT NULL,
    cpus        INTEGER     NOT NULL,
    memory_mib  BIGINT      NOT NULL,
    disk_gib    INTEGER     NOT NULL,
    created_at  BIGINT      NOT NULL,
    updated_at  BIGINT      NOT NULL
);
CREATE INDEX vms_by_host ON vms (host, state);
CREATE INDEX vms_by_state ON vms (state);

CREATE TABLE log_chunks (
    job_id  VARCHAR(40) NOT NULL,
    pos     BIGINT      NOT NULL,
    vm_id   VARCHAR(40) NOT NULL,
    seq     BIGINT      NOT NULL,
    stream  VARCHAR(8)  NOT NULL,
    text    TEXT        NOT NULL,
    PRIMARY KEY (job_id, pos)
);
CREATE UNIQUE INDEX log_chunks_by_vm ON log_chunks (vm_id, seq);
