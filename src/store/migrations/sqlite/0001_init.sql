-- Control-plane schema v1 (DESIGN §3.2, §3.3). Every tenant row carries org_id and is keyed by
-- (org_id, id); references between tenant rows are composite foreign keys, so a row can never
-- point at another organization's object. Times are milliseconds since the epoch.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    plan        TEXT NOT NULL CHECK (plan IN ('starter', 'professional', 'premium', 'enterprise')),
    rate_limit  INTEGER,            -- requests/minute override; NULL = the plan's; 0 = unlimited
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,            -- public key id "key_…", shown in lists and audit
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    name          TEXT NOT NULL,
    secret_hmac   TEXT NOT NULL UNIQUE,        -- HMAC-SHA-256(pepper, token), hex; never the token
    scopes        TEXT NOT NULL,               -- space-separated, closed set, no wildcard
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE connections (
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    type        TEXT NOT NULL,
    category    TEXT NOT NULL CHECK (category IN ('source', 'destination')),
    params      TEXT NOT NULL,                 -- JSON of the non-secret params
    secrets     TEXT,                          -- sealed JSON of the secret params (keyring.h)
    secret_names TEXT NOT NULL DEFAULT '',     -- which secret params are set (names only)
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, id)
);
CREATE UNIQUE INDEX connections_name ON connections (org_id, name);
CREATE INDEX connections_list ON connections (org_id, created_at, id);

CREATE TABLE pipelines (
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'paused')),
    revision     INTEGER NOT NULL,
    freshness_sla_minutes INTEGER,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    deleted_at   BIGINT,                       -- soft delete: restorable
    PRIMARY KEY (org_id, id)
);
CREATE INDEX pipelines_list ON pipelines (org_id, deleted_at, created_at, id);
CREATE UNIQUE INDEX pipelines_name ON pipelines (org_id, name) WHERE deleted_at IS NULL;

CREATE TABLE pipeline_revisions (
    org_id       TEXT NOT NULL,
    pipeline_id  TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    graph        TEXT NOT NULL,
    node_count   INTEGER NOT NULL,             -- for list views, which do not parse graphs
    description  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT,                         -- key id
    PRIMARY KEY (org_id, pipeline_id, revision),
    FOREIGN KEY (org_id, pipeline_id) REFERENCES pipelines (org_id, id)
);

-- Which connections the current revision of a pipeline uses: delete_connection refuses
-- while a row points at the connection (the foreign key enforces it too).
CREATE TABLE pipeline_connections (
    org_id         TEXT NOT NULL,
    pipeline_id    TEXT NOT NULL,
    connection_id  TEXT NOT NULL,
    PRIMARY KEY (org_id, pipeline_id, connection_id),
    FOREIGN KEY (org_id, pipeline_id) REFERENCES pipelines (org_id, id),
    FOREIGN KEY (org_id, connection_id) REFERENCES connections (org_id, id)
);
CREATE INDEX pipeline_connections_conn ON pipeline_connections (org_id, connection_id);

CREATE TABLE schedules (
    org_id           TEXT NOT NULL,
    id               TEXT NOT NULL,
    pipeline_id      TEXT NOT NULL,
    cron_expression  TEXT NOT NULL,
    frequency        TEXT NOT NULL CHECK (frequency IN ('hourly', 'daily', 'weekly', 'monthly', 'custom')),
    timezone         TEXT NOT NULL,
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    misfire          TEXT NOT NULL DEFAULT 'run_latest' CHECK (misfire IN ('run_latest', 'skip')),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, pipeline_id) REFERENCES pipelines (org_id, id)
);
CREATE INDEX schedules_pipeline ON schedules (org_id, pipeline_id);
CREATE INDEX schedules_list ON schedules (org_id, created_at, id);

CREATE TABLE runs (
    org_id           TEXT NOT NULL,
    id               TEXT NOT NULL,
    pipeline_id      TEXT NOT NULL,
    revision         INTEGER NOT NULL,
    trigger          TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule', 'api')),
    schedule_id      TEXT,
    slot             BIGINT,                   -- the schedule slot this run fires, if any
    status           TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'skipped')),
    queued_at        BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    rows_read        BIGINT NOT NULL DEFAULT 0,
    rows_written     BIGINT NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL DEFAULT 1,
    params           TEXT,
    error            TEXT,                     -- JSON {code, message, node_id, retryable, hint}
    nodes            TEXT,                     -- JSON [{node_id, status, rows_in, rows_out, duration_ms}]
    idempotency_key  TEXT,
    PRIMARY KEY (org_id, id),
    FOREIGN KEY (org_id, pipeline_id) REFERENCES pipelines (org_id, id)
    -- schedule_id is kept as history after delete_schedule (permanent), so it has no foreign key
);
CREATE INDEX runs_pipeline ON runs (org_id, pipeline_id, queued_at);
CREATE UNIQUE INDEX runs_slot ON runs (org_id, schedule_id, slot);
CREATE UNIQUE INDEX runs_idempotency ON runs (org_id, pipeline_id, idempotency_key);

-- Append-only: the triggers below refuse updates and deletes.
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           BIGINT NOT NULL,
    org_id       TEXT,                         -- NULL when the key could not be identified
    key_id       TEXT,
    transport    TEXT NOT NULL,
    method       TEXT NOT NULL,
    tool         TEXT,
    target_id    TEXT,
    outcome      TEXT NOT NULL,                -- ok | error | denied
    error_code   TEXT,
    latency_us   BIGINT NOT NULL,
    arguments    TEXT                          -- JSON with secret values redacted
);
CREATE INDEX audit_org ON audit_log (org_id, at);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
