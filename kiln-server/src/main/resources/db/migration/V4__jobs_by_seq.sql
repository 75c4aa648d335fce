-- Each submission numbers its job MAX(seq) + 1; jobs_by_state (state, seq) cannot answer that, so
-- without this index every submission read the whole jobs table.
CREATE INDEX jobs_by_seq ON jobs (seq);
