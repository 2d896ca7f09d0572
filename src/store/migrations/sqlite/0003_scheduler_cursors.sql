-- The scheduler (issue 5): each enabled schedule carries the UTC instant (ms) of its next slot,
-- so the scheduler finds due schedules with one indexed query and sleeps until the earliest;
-- what to do when the previous run is still going (overlap) is per schedule; a run row can
-- carry a note ("late by 93 s; 4 earlier missed slots not run"); and one lease row says which
-- process schedules for this store.
ALTER TABLE schedules ADD COLUMN next_fire_at BIGINT;  -- NULL: disabled, or no future slot
ALTER TABLE schedules ADD COLUMN overlap TEXT NOT NULL DEFAULT 'skip'
    CHECK (overlap IN ('skip', 'queue'));
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE enabled = 1;
ALTER TABLE runs ADD COLUMN note TEXT;

CREATE TABLE scheduler_lease (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    holder      TEXT NOT NULL,                 -- "pid:start-ticks" of the scheduling process
    expires_at  BIGINT NOT NULL                -- ms; another process may take over after it
);

-- Incremental sources (issue 4): the position of each source node with a cursor_column after the
-- pipeline's last successful run, JSON {"column", "type", "value"} (engine/cursor.h). Written in
-- the same transaction that records the run's success, so a failed run never advances it.
CREATE TABLE pipeline_cursors (
    org_id       TEXT NOT NULL,
    pipeline_id  TEXT NOT NULL,
    node_id      TEXT NOT NULL,
    position     TEXT NOT NULL,
    run_id       TEXT NOT NULL,                -- the run that reached it
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (org_id, pipeline_id, node_id),
    FOREIGN KEY (org_id, pipeline_id) REFERENCES pipelines (org_id, id)
);

-- The latest run of a pipeline (list views, health) is ORDER BY queued_at DESC, id DESC: with id
-- in the index SQLite walks it backwards instead of sorting each pipeline's runs in a temporary
-- b-tree for every row of a list page.
DROP INDEX runs_pipeline;
CREATE INDEX runs_pipeline ON runs (org_id, pipeline_id, queued_at, id);
