-- Issue 19: the image pipeline. The digests each host holds, as its agent last reported them (space-separated,
-- sorted; NULL from an agent that does not say), so that a name moves to a new digest once the hosts prefetched it.
ALTER TABLE hosts ADD COLUMN images TEXT;

-- Every build the pipeline made or tried: why (its trigger), what became of it and why not.
CREATE TABLE image_builds (
    id             VARCHAR(40)  PRIMARY KEY,
    name           VARCHAR(100) NOT NULL,     -- the image's name (runner, runner-arm64)
    recipe         VARCHAR(100) NOT NULL,
    arch           VARCHAR(16)  NOT NULL,
    trigger_reason TEXT         NOT NULL,     -- "scheduled", "runner 2.330.0 released", ...
    runner_version VARCHAR(64),
    digest         VARCHAR(80),               -- the build's, once stored
    outcome        VARCHAR(20)  NOT NULL,     -- BUILDING, ROLLING_OUT, MOVED, FAILED
    message        TEXT,
    started_at     BIGINT       NOT NULL,
    ended_at       BIGINT
);
CREATE INDEX image_builds_by_name ON image_builds (name, started_at);
