/* Runs of pipelines, the queue side: the views (one run, run history, the latest run) and
 * px_run_trigger. Health is in runs_health.c, execution of one run in runs_exec.c, process
 * identity, claiming, recovery and the worker pool in runs_worker.c. See runs.h. */
#include "service/runs.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

/* ---- views ------------------------------------------------------------------------------ */

#define RUN_COLUMNS                                                                                \
    "x.id, x.pipeline_id, x.revision, x.trigger, x.schedule_id, x.slot, x.status, x.queued_at,"    \
    " x.started_at, x.finished_at, x.rows_read, x.rows_written, x.attempt, x.error, x.nodes,"      \
    " x.note"
enum {
    C_ID,
    C_PIPELINE,
    C_REV,
    C_TRIGGER,
    C_SCHED,
    C_SLOT,
    C_STATUS,
    C_QUEUED,
    C_STARTED,
    C_FINISHED,
    C_READ,
    C_WRITTEN,
    C_ATTEMPT,
    C_ERROR,
    C_NODES,
    C_NOTE
};

static void set_time_or_null(struct json_object *o, const char *key, struct px_rows *rows, int col)
{
    if (px_rows_is_null(rows, col))
        px_json_set(o, key, NULL);
    else
        px_json_set_time(o, key, px_rows_int(rows, col));
}

static struct json_object *run_view(struct px_rows *rows)
{
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "run_id", px_rows_text(rows, C_ID));
    px_json_set_str(o, "pipeline_id", px_rows_text(rows, C_PIPELINE));
    px_json_set_int(o, "revision", px_rows_int(rows, C_REV));
    struct json_object *tr = json_object_new_object();
    px_json_set_str(tr, "type", px_rows_text(rows, C_TRIGGER));
    px_json_set_str(tr, "schedule_id", px_rows_text(rows, C_SCHED));
    set_time_or_null(tr, "slot", rows, C_SLOT);
    px_json_set(o, "trigger", tr);
    px_json_set_str(o, "status", px_rows_text(rows, C_STATUS));
    px_json_set_time(o, "queued_at", px_rows_int(rows, C_QUEUED));
    set_time_or_null(o, "started_at", rows, C_STARTED);
    set_time_or_null(o, "finished_at", rows, C_FINISHED);
    if (!px_rows_is_null(rows, C_STARTED) && !px_rows_is_null(rows, C_FINISHED)) {
        int64_t d = px_rows_int(rows, C_FINISHED) - px_rows_int(rows, C_STARTED);
        px_json_set_int(o, "duration_ms", d < 0 ? 0 : d);
    } else {
        px_json_set(o, "duration_ms", NULL);
    }
    px_json_set_int(o, "rows_read", px_rows_int(rows, C_READ));
    px_json_set_int(o, "rows_written", px_rows_int(rows, C_WRITTEN));
    px_json_set_int(o, "attempt", px_rows_int(rows, C_ATTEMPT));
    const char *e = px_rows_text(rows, C_ERROR);
    px_json_set(o, "error", e ? json_tokener_parse(e) : NULL);
    const char *n = px_rows_text(rows, C_NODES);
    struct json_object *nodes = n ? json_tokener_parse(n) : NULL;
    if (!nodes || !json_object_is_type(nodes, json_type_array)) {
        json_object_put(nodes);
        nodes = json_object_new_array();
    }
    px_json_set(o, "nodes", nodes);
    px_json_set_str(o, "note", px_rows_text(rows, C_NOTE));
    return o;
}

bool px_run_finished(struct json_object *run)
{
    const char *s = px_json_get_str(run, "status");
    return s && strcmp(s, "queued") != 0 && strcmp(s, "running") != 0;
}

int px_run_get(const struct px_tenant *t, const char *run_id, struct json_object **out,
               struct px_error *err)
{
    int rc = px_check_id(PX_ID_RUN, "run_id", run_id, err);
    if (rc)
        return rc;
    return px_load_one(t, "SELECT " RUN_COLUMNS " FROM runs x WHERE x.org_id = ? AND x.id = ?",
                       run_id, run_view, PX_ID_RUN, out, err);
}

int px_run_node(const struct px_tenant *t, const char *run_id, char node[64], struct px_error *err)
{
    node[0] = '\0';
    struct px_rows *rows;
    int rc = px_store_query(t->store,
                            "SELECT progress_node FROM runs WHERE org_id = ? AND id = ?"
                            " AND status = 'running'",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(run_id)), 2, &rows, err);
    if (rc)
        return rc;
    if ((rc = px_rows_next(rows, err)) == 1 && !px_rows_is_null(rows, 0))
        snprintf(node, 64, "%s", px_rows_text(rows, 0));
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

struct json_object *px_run_latest(const struct px_tenant *t, const char *pipeline_id)
{
    struct px_rows *rows;
    if (px_store_query(t->store,
                       "SELECT " RUN_COLUMNS " FROM runs x WHERE x.org_id = ? AND x.pipeline_id = ?"
                       " ORDER BY x.queued_at DESC, x.id DESC LIMIT 1",
                       PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)), 2, &rows, NULL))
        return NULL;
    struct json_object *o = px_rows_next(rows, NULL) == 1 ? run_view(rows) : NULL;
    px_rows_free(rows);
    return o;
}

int px_run_list(const struct px_tenant *t, const char *pipeline_id, const char *status,
                long long limit, const char *cursor, struct json_object **out, struct px_error *err)
{
    int rc = px_pipeline_check(t, pipeline_id, err);
    if (rc)
        return rc;
    struct px_page pg;
    if ((rc = px_page_init(&pg, limit, 10, cursor, err)))
        return rc;
    struct px_rows *rows;
    rc =
        px_store_query(t->store,
                       "SELECT " RUN_COLUMNS " FROM runs x WHERE x.org_id = ? AND x.pipeline_id = ?"
                       " AND (? IS NULL OR x.status = ?)"
                       " AND (? = 0 OR x.queued_at < ? OR (x.queued_at = ? AND x.id < ?))"
                       " ORDER BY x.queued_at DESC, x.id DESC LIMIT ?",
                       PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(status),
                                 PX_V_TEXT(status), PX_PAGE_PARAMS(pg)),
                       9, &rows, err);
    if (rc)
        return rc;
    struct json_object *page;
    if ((rc = px_page_collect(rows, &pg, run_view, C_QUEUED, C_ID, "runs", &page, err)))
        return rc;
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "pipeline_id", pipeline_id);
    px_json_set(o, "runs", json_object_get(px_json_get(page, "runs")));
    px_json_set(o, "next_cursor", json_object_get(px_json_get(page, "next_cursor")));
    json_object_put(page);
    *out = o;
    return 0;
}

/* ---- trigger ---------------------------------------------------------------------------- */

static int find_by_key(const struct px_tenant *t, const char *pipeline_id, const char *key,
                       char run_id[PX_ID_MAX], struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(t->store,
                            "SELECT id FROM runs WHERE org_id = ? AND pipeline_id = ?"
                            " AND idempotency_key = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(key)),
                            3, &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc == 1)
        snprintf(run_id, PX_ID_MAX, "%s", px_rows_text(rows, 0));
    px_rows_free(rows);
    return rc;
}

int px_run_trigger(const struct px_tenant *t, const char *pipeline_id, struct json_object *params,
                   const char *idempotency_key, const char *trigger, struct json_object **out,
                   struct px_error *err)
{
    *out = NULL;
    int rc = px_pipeline_check(t, pipeline_id, err);
    if (rc)
        return rc;
    char id[PX_ID_MAX] = "";
    bool replayed = false;
    if (idempotency_key && (rc = find_by_key(t, pipeline_id, idempotency_key, id, err)) < 0)
        return rc;
    replayed = rc == 1;
    if (!replayed) {
        px_id_new(PX_ID_RUN, id);
        rc = px_store_exec(
            t->store,
            "INSERT INTO runs (org_id, id, pipeline_id, revision, trigger, status, queued_at,"
            " attempt, params, idempotency_key, runner)"
            " SELECT org_id, ?, id, revision, ?, 'queued', ?, 1, ?, ?, ? FROM pipelines"
            " WHERE org_id = ? AND id = ? AND deleted_at IS NULL",
            PX_PARAMS(PX_V_TEXT(id), PX_V_TEXT(trigger), PX_V_INT(px_now_ms()),
                      PX_V_TEXT(params ? px_json_str(params) : NULL), PX_V_TEXT(idempotency_key),
                      PX_V_TEXT(px_run_self()), PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)),
            8, NULL, err);
        if (rc == -PX_ECONFLICT && idempotency_key) {
            /* A concurrent trigger with the same key won the race: answer with its run. */
            rc = find_by_key(t, pipeline_id, idempotency_key, id, err);
            if (rc < 0)
                return rc;
            if (rc == 0)
                return px_error_set(err, PX_ECONFLICT,
                                    "a run with this idempotency_key is "
                                    "being created; try again");
            rc = 0;
            replayed = true;
        }
        if (rc)
            return rc;
        if (!replayed)
            px_run_workers_wake();
    }
    struct json_object *run;
    if ((rc = px_run_get(t, id, &run, err)))
        return rc;
    struct json_object *o = json_object_new_object();
    px_json_set(o, "run", run);
    px_json_set_bool(o, "replayed", replayed);
    *out = o;
    return 0;
}
