-- GitHub intake (issue 14). Every verified delivery is kept as it came: form-encoded ones with their content
-- type, and a body that is not UTF-8 text (it cannot be JSON, but it was signed) in base64. Deliveries are
-- pruned by age, so they are found by when they came. A job whose launch was withdrawn (its runner could not
-- be registered in time) waits in the queue until not_before; withdrawals counts them for the backoff.

ALTER TABLE github_deliveries ADD COLUMN content_type VARCHAR(128);
ALTER TABLE github_deliveries ADD COLUMN body_base64 SMALLINT NOT NULL DEFAULT 0;
CREATE INDEX github_deliveries_by_received ON github_deliveries (received_at);

ALTER TABLE jobs ADD COLUMN not_before BIGINT;
ALTER TABLE jobs ADD COLUMN withdrawals INTEGER NOT NULL DEFAULT 0;
