-- Run execution (issue 4): which process owns a queued or running run, so a restarted
-- server can tell runs a dead process left behind from runs another live process is working
-- on, and an index for the workers' "oldest queued run first" query.
ALTER TABLE runs ADD COLUMN runner TEXT;     -- "pid:start-ticks" of the owning process
CREATE INDEX runs_status ON runs (status, queued_at, id);
