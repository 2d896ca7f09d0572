-- Run ownership, progress while running, and fair claiming (issue 10 items 12, 15 and 9).
--
-- A running run is owned by the process named in runs.runner for as long as lease_until (ms,
-- wall clock) lies in the future; the owner renews it every third of the lease
-- (PLANASONIX_RUN_LEASE_MS). Recovery fails only running runs whose lease has expired, so a
-- second live process on the same store never touches another's run. Runs that were running
-- when this migration ran get one default lease period (15 s) from now: their process, if it
-- is an older binary still alive, does not renew, and they are recovered after that.
-- runs.runner (and scheduler_lease.holder) now hold "pid:16 random hex digits", unique per
-- process; nothing reads liveness from them any more.
ALTER TABLE runs ADD COLUMN lease_until BIGINT;
UPDATE runs SET lease_until = CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 15000
 WHERE status = 'running';

-- Where a running run is (issue 10 item 15): the node the engine is pulling from, written with
-- the rows read and written so far (at most every 250 ms), so a trigger_pipeline waiting in
-- any process can report progress. NULL once the run has ended.
ALTER TABLE runs ADD COLUMN progress_node TEXT;

-- Claiming picks organizations in turn (item 9): the organization whose latest claim is the
-- oldest goes first (round robin across the store, whichever process claims). last_turn is a
-- store-wide sequence number: each claim gives its organization max(last_turn) + 1.
CREATE TABLE run_turns (
    org_id     TEXT PRIMARY KEY REFERENCES orgs (id),
    last_turn  BIGINT NOT NULL
);

-- Per-organization running counts (PLANASONIX_ORG_MAX_RUNNING) and the oldest queued run of
-- one organization.
CREATE INDEX runs_org_status ON runs (org_id, status, queued_at, id);
