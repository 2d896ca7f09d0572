/*
 * Pipelines of one organization: create from a graph, read, list, pause/resume, update
 * (a new graph revision), rename, soft delete, restore and purge. Graphs are validated
 * (engine/graph.h) before anything is stored. Results are JSON views that never include secrets and
 * whose untrusted text (names, descriptions) is cleaned and capped.
 */
#ifndef PX_SERVICE_PIPELINES_H
#define PX_SERVICE_PIPELINES_H

#include "service/tenant.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;

/* List filters; NULL/0 means "any" / the default. */
struct px_pipeline_filter {
    const char *status; /* "active" | "paused" */
    const char *query;  /* case-insensitive substring of name or description */
    int64_t limit;
    const char *cursor;
};

int px_pipeline_create(const struct px_tenant *t, const char *name, const char *description,
                       struct json_object *graph, bool dry_run, struct json_object **out,
                       struct px_error *err);
/* The pipeline's latest `limit` revisions, newest first: an owned array of {revision,
 * created_at, key_id (null from the CLI), change (what the revision's description said, cut at
 * PX_REVISION_CHANGE_MAX bytes)}; *total is how many it has. */
#define PX_REVISION_CHANGE_MAX 200
int px_pipeline_revisions(const struct px_tenant *t, const char *id, int limit,
                          struct json_object **out, int64_t *total, struct px_error *err);
/* The graph of one revision (owned), for revert_to_revision; a revision the pipeline does not
 * have is -PX_EINVALID naming revert_to_revision and the revisions it has. */
int px_pipeline_revision_graph(const struct px_tenant *t, const char *id, int64_t revision,
                               struct json_object **graph, struct px_error *err);
int px_pipeline_get(const struct px_tenant *t, const char *id, struct json_object **out,
                    struct px_error *err);
/* {pipelines: [summary], next_cursor}, rendered straight to text: *out is a px_json_raw value
 * (serialize it; parse it to read members). */
int px_pipeline_list(const struct px_tenant *t, const struct px_pipeline_filter *f,
                     struct json_object **out, struct px_error *err);
/* status: "active" or "paused". */
int px_pipeline_set_status(const struct px_tenant *t, const char *id, const char *status,
                           struct json_object **out, struct px_error *err);
/* base_revision < 0: no check. change_note: what this revision changes. */
int px_pipeline_update(const struct px_tenant *t, const char *id, const char *change_note,
                       struct json_object *graph, int64_t base_revision, bool dry_run,
                       struct json_object **out, struct px_error *err);
int px_pipeline_delete(const struct px_tenant *t, const char *id, struct json_object **out,
                       struct px_error *err);
/* Brings a soft-deleted pipeline back (its schedules stay disabled), under new_name when
 * not NULL. A name now taken by a live pipeline is a conflict whose hint names the CLI
 * (`pipeline restore … --name`), restore's only caller. */
int px_pipeline_restore(const struct px_tenant *t, const char *id, const char *new_name,
                        struct json_object **out, struct px_error *err);
/* Renames a live pipeline (no new revision). A name another live pipeline has is a conflict
 * naming it; dry_run checks only. *changed: the name differs from the current one. */
int px_pipeline_rename(const struct px_tenant *t, const char *id, const char *name, bool dry_run,
                       bool *changed, struct px_error *err);
/* Removes soft-deleted pipelines for good, with their revisions, schedules, runs, cursors and
 * connection links (the audit trail keeps what happened): the one with id, or every deleted
 * pipeline of the org when id is NULL. A live pipeline is refused (invalid), as is one with
 * a queued or running run (conflict); all or nothing. *out = {purged: [{pipeline_id, name}]}. */
int px_pipeline_purge(const struct px_tenant *t, const char *id, struct json_object **out,
                      struct px_error *err);
/* Sets the freshness SLA (a success within `minutes`; <= 0 clears it) that
 * get_pipeline_health measures against. */
int px_pipeline_set_sla(const struct px_tenant *t, const char *id, int64_t minutes,
                        struct px_error *err);

#endif
