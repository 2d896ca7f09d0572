-- The directory an organization's file connectors (csv, jsonl, sqlite) resolve in, when the
-- operator set one with `planasonix-mcp org update ORG --files-dir DIR` (an absolute, canonical
-- path); NULL means the default PLANASONIX_FILES_ROOT/<org_id>. No two organizations share one
-- (service/orgs.c also refuses directories that contain or lie inside another's).
ALTER TABLE orgs ADD COLUMN files_dir TEXT;
CREATE UNIQUE INDEX orgs_files_dir ON orgs (files_dir) WHERE files_dir IS NOT NULL;
