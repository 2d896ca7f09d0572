-- What list pages show of a pipeline, kept on the pipeline row so a page reads one row per
-- pipeline instead of joining pipeline_revisions and searching runs for every row.

-- The current revision's node count, written with every new revision (service/pipelines.c,
-- insert_revision).
ALTER TABLE pipelines ADD COLUMN node_count INTEGER NOT NULL DEFAULT 0;
UPDATE pipelines SET node_count = COALESCE(
    (SELECT r.node_count FROM pipeline_revisions r
      WHERE r.org_id = pipelines.org_id AND r.pipeline_id = pipelines.id
        AND r.revision = pipelines.revision), 0);

-- The latest run (by queued_at, then id), kept by a trigger on every inserted run; runs are
-- never deleted and their queued_at never changes, so an insert is the only event that moves it.
ALTER TABLE pipelines ADD COLUMN last_run_id TEXT;
UPDATE pipelines SET last_run_id =
    (SELECT l.id FROM runs l WHERE l.org_id = pipelines.org_id AND l.pipeline_id = pipelines.id
      ORDER BY l.queued_at DESC, l.id DESC LIMIT 1);
CREATE TRIGGER runs_latest AFTER INSERT ON runs
BEGIN
    UPDATE pipelines SET last_run_id = NEW.id
     WHERE org_id = NEW.org_id AND id = NEW.pipeline_id
       AND (last_run_id IS NULL OR NOT EXISTS (
            SELECT 1 FROM runs l
             WHERE l.org_id = NEW.org_id AND l.id = pipelines.last_run_id
               AND (l.queued_at > NEW.queued_at
                    OR (l.queued_at = NEW.queued_at AND l.id > NEW.id))));
END;
