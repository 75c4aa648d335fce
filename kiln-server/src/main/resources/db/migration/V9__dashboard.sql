-- Issue 16: the dashboard. Read-only viewer tokens the admin makes (only their hash is kept), the sessions a sign-in
-- opens (only the hash of the session id is kept, so a copy of the database opens none; each names the hash of the
-- token it was opened with, so that revoking a viewer token or changing the admin token ends it), and a job's labels, which
-- the dashboard filters on: a comma-separated list with a comma before and after (",kiln,kiln-4cpu-8gb,"), so that
-- one LIKE finds a whole label.

CREATE TABLE viewer_tokens (
    name        VARCHAR(64)  PRIMARY KEY,
    token_hash  VARCHAR(64)  NOT NULL,
    created_at  BIGINT       NOT NULL
);
CREATE UNIQUE INDEX viewer_tokens_by_hash ON viewer_tokens (token_hash);

CREATE TABLE dashboard_sessions (
    id_hash     VARCHAR(64)  PRIMARY KEY,
    role        VARCHAR(16)  NOT NULL,   -- ADMIN or VIEWER
    token_hash  VARCHAR(64)  NOT NULL,   -- of the token signed in with: the session lives while that token does
    csrf        VARCHAR(64)  NOT NULL,   -- sent back by the pages with each action (X-Kiln-Csrf)
    created_at  BIGINT       NOT NULL,
    expires_at  BIGINT       NOT NULL
);
CREATE INDEX dashboard_sessions_by_expiry ON dashboard_sessions (expires_at);

ALTER TABLE jobs ADD COLUMN labels VARCHAR(1024) NOT NULL DEFAULT '';
CREATE INDEX jobs_by_repo ON jobs (repo, seq);
CREATE INDEX jobs_by_host ON jobs (host, seq);
