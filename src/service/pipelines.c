/* Pipelines of one organization: see pipelines.h. */
#include "service/pipelines.h"

#include "planner/diff.h"
#include "service/schedules.h"
#include "service/runs.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/text.h"
#include "engine/graph.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_OUT_MAX 200
#define DESCRIPTION_OUT_MAX 2000

/* Adds a cleaned, capped copy of untrusted text, with "<key>_truncated" when it was cut. */
static void set_clean(struct json_object *o, const char *key, const char *text, size_t max)
{
    bool cut = false;
    char *clean = px_text_clean(text, max, &cut);
    px_json_set_str(o, key, clean);
    free(clean);
    if (cut) {
        char k[64];
        snprintf(k, sizeof(k), "%s_truncated", key);
        px_json_set_bool(o, k, true);
    }
}

/* ---- graph validation against this org's connections ------------------------------------ */

static int lookup_conn(void *ctx, const char *id, char type_out[32], char category_out[16])
{
    const struct px_tenant *t = ctx;
    struct px_rows *rows;
    if (!px_id_valid(PX_ID_CONN, id))
        return -PX_ENOTFOUND;
    int rc = px_store_query(t->store,
                            "SELECT type, category FROM connections WHERE org_id = ? AND id = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, NULL);
    if (rc)
        return rc;
    rc = px_rows_next(rows, NULL);
    if (rc == 1) {
        snprintf(type_out, 32, "%s", px_rows_text(rows, 0));
        snprintf(category_out, 16, "%s", px_rows_text(rows, 1));
        rc = 0;
    } else if (rc == 0) {
        rc = -PX_ENOTFOUND;
    }
    px_rows_free(rows);
    return rc;
}

static int validate_graph(const struct px_tenant *t, struct json_object *graph,
                          struct json_object **conn_ids, struct px_error *err)
{
    struct px_tenant copy = *t; /* the lookup callback takes a mutable context */
    int rc = px_graph_validate(graph, lookup_conn, &copy, conn_ids, err);
    if (rc && err && !err->hint[0])
        px_error_hint(err, "fix the graph and try again; list_connection_types shows node "
                           "types and list_connectors your connections");
    return rc;
}

static int link_connections(const struct px_tenant *t, const char *pipeline_id,
                            struct json_object *conn_ids, struct px_error *err)
{
    int rc = px_store_exec(t->store,
                           "DELETE FROM pipeline_connections WHERE org_id = ? AND pipeline_id = ?",
                           PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)), 2, NULL, err);
    size_t n = conn_ids ? json_object_array_length(conn_ids) : 0;
    for (size_t i = 0; !rc && i < n; i++) {
        const char *cid = json_object_get_string(json_object_array_get_idx(conn_ids, i));
        rc = px_store_exec(t->store,
                           "INSERT INTO pipeline_connections (org_id, pipeline_id, connection_id)"
                           " VALUES (?, ?, ?)",
                           PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(cid)),
                           3, NULL, err);
    }
    return rc;
}

/* ---- views ------------------------------------------------------------------------------ */

#define PIPELINE_COLUMNS                                                                           \
    "p.id, p.name, p.description, p.status, p.revision, p.created_at, p.updated_at, r.graph,"      \
    " p.freshness_sla_minutes"
/* The same first seven columns, then the node count instead of the whole graph, then the
 * latest run (LAST_RUN_JOIN; NULLs when there is none). */
#define SUMMARY_COLUMNS                                                                            \
    "p.id, p.name, p.description, p.status, p.revision, p.created_at, p.updated_at, p.node_count," \
    " lr.id, lr.status, lr.queued_at, lr.finished_at, lr.rows_written"
/* pipelines.last_run_id is kept by a trigger on runs (migration 0004). */
#define LAST_RUN_JOIN " LEFT JOIN runs lr ON lr.org_id = p.org_id AND lr.id = p.last_run_id"

/* The list rows below are written without printf: it was a third of a list call's work. */
static void put(struct px_buf *b, const char *s)
{
    (void)px_buf_append(b, s, strlen(s));
}

/* ,"key": */
static void put_key(struct px_buf *b, const char *key)
{
    put(b, ",\"");
    put(b, key);
    put(b, "\":");
}

static void put_int(struct px_buf *b, int64_t v)
{
    char t[24], *p = t + sizeof(t);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    (void)px_buf_append(b, p, (size_t)(t + sizeof(t) - p));
}

/* "key":"text" with text cleaned and capped (and "key_truncated":true when cut). */
static void put_clean(struct px_buf *b, const char *key, const char *text, size_t max)
{
    if (px_text_is_clean(text, max)) { /* the usual case: stored text was cleaned on the way in */
        put_key(b, key);
        px_json_write_str(b, text);
        return;
    }
    bool cut = false;
    char *clean = px_text_clean(text, max, &cut);
    put_key(b, key);
    px_json_write_str(b, clean);
    free(clean);
    if (cut) {
        put(b, ",\"");
        put(b, key);
        put(b, "_truncated\":true");
    }
}

/* As px_json_set_time: ms <= 0 is null. */
static void put_time(struct px_buf *b, const char *key, int64_t ms)
{
    put_key(b, key);
    if (ms <= 0) {
        put(b, "null");
        return;
    }
    char t[40];
    px_time_format(ms, t, sizeof(t));
    put(b, "\"");
    put(b, t);
    put(b, "\"");
}

/* One row of list_pipelines, written straight as JSON (the hot read path: no json-c objects). */
static void summary_text(struct px_rows *rows, struct px_buf *b)
{
    put(b, "{\"pipeline_id\":");
    px_json_write_str(b, px_rows_text(rows, 0));
    put_clean(b, "name", px_rows_text(rows, 1), NAME_OUT_MAX);
    put_clean(b, "description", px_rows_text(rows, 2), DESCRIPTION_OUT_MAX);
    put_key(b, "status");
    px_json_write_str(b, px_rows_text(rows, 3));
    put_key(b, "revision");
    put_int(b, px_rows_int(rows, 4));
    put_key(b, "node_count");
    put_int(b, px_rows_int(rows, 7));
    put_key(b, "last_run");
    if (px_rows_is_null(rows, 8)) {
        put(b, "null");
    } else {
        put(b, "{\"run_id\":");
        px_json_write_str(b, px_rows_text(rows, 8));
        put_key(b, "status");
        px_json_write_str(b, px_rows_text(rows, 9));
        put_time(b, "queued_at", px_rows_int(rows, 10));
        put_time(b, "finished_at", px_rows_is_null(rows, 11) ? 0 : px_rows_int(rows, 11));
        put_key(b, "rows_written");
        put_int(b, px_rows_int(rows, 12));
        put(b, "}");
    }
    put_time(b, "created_at", px_rows_int(rows, 5));
    put_time(b, "updated_at", px_rows_int(rows, 6));
    put(b, "}");
}

static int schedules_view(const struct px_tenant *t, const char *id, struct json_object **out,
                          struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(t->store,
                            "SELECT s.id, s.cron_expression, s.timezone, s.enabled,"
                            " s.next_fire_at, p.status FROM schedules s JOIN pipelines p"
                            " ON p.org_id = s.org_id AND p.id = s.pipeline_id"
                            " WHERE s.org_id = ? AND s.pipeline_id = ? ORDER BY s.created_at, s.id",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, err);
    if (rc)
        return rc;
    struct json_object *arr = json_object_new_array();
    while ((rc = px_rows_next(rows, err)) == 1) {
        struct json_object *s = json_object_new_object();
        px_json_set_str(s, "schedule_id", px_rows_text(rows, 0));
        px_json_set_str(s, "cron_expression", px_rows_text(rows, 1));
        px_json_set_str(s, "timezone", px_rows_text(rows, 2));
        bool enabled = px_rows_int(rows, 3) != 0;
        px_json_set_bool(s, "enabled", enabled);
        int64_t next = px_rows_is_null(rows, 4) ? -1 : px_rows_int(rows, 4);
        px_schedule_add_state(s, px_rows_text(rows, 1), px_rows_text(rows, 2), enabled,
                              strcmp(px_rows_text(rows, 5), "paused") == 0, next);
        json_object_array_add(arr, s);
    }
    px_rows_free(rows);
    if (rc < 0) {
        json_object_put(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* "ok" when the pipeline's latest finished run succeeded, "error" when it failed, timed out
 * or was cancelled, "unknown" before any run has finished (skipped slots do not count). */
static int health_of(const struct px_tenant *t, const char *id, const char **out,
                     struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(t->store,
                            "SELECT status FROM runs WHERE org_id = ? AND pipeline_id = ?"
                            " AND status IN ('succeeded', 'failed', 'timed_out', 'cancelled')"
                            " ORDER BY finished_at DESC, id DESC LIMIT 1",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, err);
    if (rc)
        return rc;
    if ((rc = px_rows_next(rows, err)) == 1)
        *out = strcmp(px_rows_text(rows, 0), "succeeded") == 0 ? "ok" : "error";
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

int px_pipeline_set_sla(const struct px_tenant *t, const char *id, int64_t minutes,
                        struct px_error *err)
{
    int rc = px_pipeline_check(t, id, err);
    if (rc)
        return rc;
    return px_store_exec(t->store,
                         "UPDATE pipelines SET freshness_sla_minutes = ?, updated_at = ?"
                         " WHERE org_id = ? AND id = ? AND deleted_at IS NULL",
                         PX_PARAMS(minutes > 0 ? PX_V_INT(minutes) : PX_V_NULL,
                                   PX_V_INT(px_now_ms()), PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
                         4, NULL, err);
}

/* The full view of a live (deleted=false) or deleted pipeline. */
static int load_view(const struct px_tenant *t, const char *id, bool deleted,
                     struct json_object **out, struct px_error *err)
{
    *out = NULL;
    struct px_rows *rows;
    int rc = px_store_query(
        t->store,
        deleted ? "SELECT " PIPELINE_COLUMNS " FROM pipelines p JOIN pipeline_revisions r"
                  " ON r.org_id = p.org_id AND r.pipeline_id = p.id AND r.revision = p.revision"
                  " WHERE p.org_id = ? AND p.id = ? AND p.deleted_at IS NOT NULL"
                : "SELECT " PIPELINE_COLUMNS " FROM pipelines p JOIN pipeline_revisions r"
                  " ON r.org_id = p.org_id AND r.pipeline_id = p.id AND r.revision = p.revision"
                  " WHERE p.org_id = ? AND p.id = ? AND p.deleted_at IS NULL",
        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc <= 0) {
        px_rows_free(rows);
        return rc < 0 ? rc : px_not_found(PX_ID_PIPELINE, err);
    }
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "pipeline_id", px_rows_text(rows, 0));
    set_clean(o, "name", px_rows_text(rows, 1), NAME_OUT_MAX);
    set_clean(o, "description", px_rows_text(rows, 2), DESCRIPTION_OUT_MAX);
    px_json_set_str(o, "status", px_rows_text(rows, 3));
    px_json_set_int(o, "revision", px_rows_int(rows, 4));
    if (px_rows_is_null(rows, 8))
        px_json_set(o, "freshness_sla_minutes", NULL);
    else
        px_json_set_int(o, "freshness_sla_minutes", px_rows_int(rows, 8));
    px_json_set(o, "graph", json_tokener_parse(px_rows_text(rows, 7)));
    px_json_set_time(o, "created_at", px_rows_int(rows, 5));
    px_json_set_time(o, "updated_at", px_rows_int(rows, 6));
    px_rows_free(rows);

    struct json_object *conns = json_object_new_array();
    if ((rc = px_store_query(t->store,
                             "SELECT connection_id FROM pipeline_connections"
                             " WHERE org_id = ? AND pipeline_id = ? ORDER BY connection_id",
                             PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, err)) == 0) {
        while ((rc = px_rows_next(rows, err)) == 1)
            json_object_array_add(conns, json_object_new_string(px_rows_text(rows, 0)));
        px_rows_free(rows);
    }
    px_json_set(o, "connections", conns);
    struct json_object *scheds = NULL;
    if (rc >= 0)
        rc = schedules_view(t, id, &scheds, err);
    if (rc < 0) {
        json_object_put(o);
        return rc;
    }
    px_json_set(o, "schedules", scheds);
    px_json_set(o, "last_run", px_run_latest(t, id));
    const char *health = "unknown";
    if ((rc = health_of(t, id, &health, err)) < 0) {
        json_object_put(o);
        return rc;
    }
    px_json_set_str(o, "health", health);
    *out = o;
    return 0;
}

/* ---- operations ------------------------------------------------------------------------- */

static int needs_planner(const char *tool, struct px_error *err)
{
    int rc = px_error_set(err, PX_EUNAVAILABLE,
                          "%s from a description alone needs the pipeline planner, which is not "
                          "available in this version",
                          tool);
    px_error_field(err, "graph");
    px_error_hint(err, "pass an explicit graph (nodes and edges; see list_connection_types for "
                       "node types)");
    return rc;
}

/* Records a new revision, which the caller has made the pipeline's current one, and keeps the
 * pipeline row's copy of its node count (read by list pages) in step. */
static int insert_revision(const struct px_tenant *t, const char *id, int64_t revision,
                           struct json_object *graph, const char *note, int64_t now,
                           struct px_error *err)
{
    int64_t nodes = (int64_t)json_object_array_length(px_json_get(graph, "nodes"));
    int rc = px_store_exec(t->store,
                           "INSERT INTO pipeline_revisions (org_id, pipeline_id, revision, graph,"
                           " node_count, description, created_at, created_by)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                           PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_INT(revision),
                                     PX_V_TEXT(px_json_str(graph)), PX_V_INT(nodes),
                                     PX_V_TEXT(note), PX_V_INT(now), PX_V_TEXT(t->key_id)),
                           8, NULL, err);
    return rc ? rc
              : px_store_exec(
                    t->store, "UPDATE pipelines SET node_count = ? WHERE org_id = ? AND id = ?",
                    PX_PARAMS(PX_V_INT(nodes), PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 3, NULL, err);
}

static struct json_object *dry_run_view(struct json_object *graph, struct json_object *conn_ids)
{
    struct json_object *o = json_object_new_object();
    px_json_set_bool(o, "dry_run", true);
    px_json_set_bool(o, "valid", true);
    px_json_set(o, "graph", json_object_get(graph));
    px_json_set(o, "connections", json_object_get(conn_ids));
    return o;
}

int px_pipeline_create(const struct px_tenant *t, const char *name, const char *description,
                       struct json_object *graph, bool dry_run, struct json_object **out,
                       struct px_error *err)
{
    *out = NULL;
    if (!graph)
        return needs_planner("create_pipeline", err);
    struct json_object *conn_ids = NULL;
    int rc = validate_graph(t, graph, &conn_ids, err);
    if (rc)
        return rc;
    if (dry_run) {
        *out = dry_run_view(graph, conn_ids);
        json_object_put(conn_ids);
        return 0;
    }
    char id[PX_ID_MAX];
    px_id_new(PX_ID_PIPELINE, id);
    int64_t now = px_now_ms();
    if ((rc = px_store_begin(t->store, err)))
        goto out;
    rc = px_store_exec(t->store,
                       "INSERT INTO pipelines (org_id, id, name, description, status, revision,"
                       " created_at, updated_at) VALUES (?, ?, ?, ?, 'active', 1, ?, ?)",
                       PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_TEXT(name),
                                 PX_V_TEXT(description), PX_V_INT(now), PX_V_INT(now)),
                       6, NULL, err);
    if (rc == -PX_ECONFLICT) {
        rc = px_error_set(err, PX_ECONFLICT, "a pipeline with this name already exists");
        px_error_field(err, "name");
        px_error_hint(err, "choose another name, or change the existing pipeline with "
                           "update_pipeline");
    }
    if (!rc)
        rc = insert_revision(t, id, 1, graph, "created", now, err);
    if (!rc)
        rc = link_connections(t, id, conn_ids, err);
    if (!rc)
        rc = load_view(t, id, false, out, err);
    rc = px_store_finish(t->store, rc, err);
    if (!rc) {
        struct json_object *w = json_object_new_object();
        px_json_set_bool(w, "dry_run", false);
        px_json_set(w, "pipeline", *out);
        *out = w;
    } else {
        json_object_put(*out);
        *out = NULL;
    }
out:
    json_object_put(conn_ids);
    return rc;
}

int px_pipeline_get(const struct px_tenant *t, const char *id, struct json_object **out,
                    struct px_error *err)
{
    int rc = px_check_id(PX_ID_PIPELINE, "pipeline_id", id, err);
    return rc ? rc : load_view(t, id, false, out, err);
}

int px_pipeline_revisions(const struct px_tenant *t, const char *id, int limit,
                          struct json_object **out, int64_t *total, struct px_error *err)
{
    *out = NULL;
    int rc = px_pipeline_check(t, id, err);
    if (rc)
        return rc;
    rc = px_store_query_int(t->store,
                            "SELECT count(*) FROM pipeline_revisions WHERE org_id = ? AND"
                            " pipeline_id = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, total, err);
    if (rc < 0)
        return rc;
    struct px_rows *rows;
    rc = px_store_query(t->store,
                        "SELECT revision, created_at, created_by, description FROM"
                        " pipeline_revisions WHERE org_id = ? AND pipeline_id = ?"
                        " ORDER BY revision DESC LIMIT ?",
                        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_INT(limit)), 3, &rows,
                        err);
    if (rc)
        return rc;
    struct json_object *arr = json_object_new_array();
    while ((rc = px_rows_next(rows, err)) == 1) {
        struct json_object *r = json_object_new_object();
        px_json_set_int(r, "revision", px_rows_int(rows, 0));
        px_json_set_time(r, "created_at", px_rows_int(rows, 1));
        px_json_set(r, "key_id",
                    px_rows_is_null(rows, 2) ? NULL
                                             : json_object_new_string(px_rows_text(rows, 2)));
        char *change = px_text_clean(px_rows_text(rows, 3), PX_REVISION_CHANGE_MAX, NULL);
        px_json_set_str(r, "change", change);
        free(change);
        json_object_array_add(arr, r);
    }
    px_rows_free(rows);
    if (rc < 0) {
        json_object_put(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

int px_pipeline_revision_graph(const struct px_tenant *t, const char *id, int64_t revision,
                               struct json_object **graph, struct px_error *err)
{
    *graph = NULL;
    int rc = px_pipeline_check(t, id, err);
    if (rc)
        return rc;
    struct px_rows *rows;
    rc = px_store_query(t->store,
                        "SELECT graph FROM pipeline_revisions WHERE org_id = ? AND pipeline_id = ?"
                        " AND revision = ?",
                        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_INT(revision)), 3,
                        &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc == 1)
        *graph = px_json_parse(px_rows_text(rows, 0), strlen(px_rows_text(rows, 0)), 64, err);
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        int64_t current = 0;
        px_store_query_int(t->store, "SELECT revision FROM pipelines WHERE org_id = ? AND id = ?",
                           PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &current, NULL);
        rc = px_error_set(err, PX_EINVALID,
                          "revision %lld of this pipeline does not exist (it has revisions 1 to "
                          "%lld)",
                          (long long)revision, (long long)current);
        px_error_field(err, "revert_to_revision");
        px_error_hint(err, "get_pipeline lists the revisions with what each one changed");
        return rc;
    }
    return *graph ? 0
                  : px_error_set(err, PX_EINTERNAL, "revision %lld: stored graph unreadable",
                                 (long long)revision);
}

/* Escapes % _ and \ for a LIKE pattern with ESCAPE '\'. */
static char *like_pattern(const char *q)
{
    size_t n = strlen(q);
    char *p = px_xmalloc(2 * n + 3), *w = p;
    *w++ = '%';
    for (const char *c = q; *c; c++) {
        if (*c == '%' || *c == '_' || *c == '\\')
            *w++ = '\\';
        *w++ = *c;
    }
    *w++ = '%';
    *w = '\0';
    return p;
}

int px_pipeline_list(const struct px_tenant *t, const struct px_pipeline_filter *f,
                     struct json_object **out, struct px_error *err)
{
    struct px_page pg;
    int rc = px_page_init(&pg, f->limit, 20, f->cursor, err);
    if (rc)
        return rc;
    char *like = f->query ? like_pattern(f->query) : NULL;
    struct px_rows *rows;
    rc = px_store_query(t->store,
                        "SELECT " SUMMARY_COLUMNS " FROM pipelines p" LAST_RUN_JOIN
                        " WHERE p.org_id = ? AND p.deleted_at IS NULL"
                        " AND (? IS NULL OR p.status = ?)"
                        " AND (? IS NULL OR lower(p.name) LIKE lower(?) ESCAPE '\\'"
                        "      OR lower(p.description) LIKE lower(?) ESCAPE '\\')" PX_PAGE_SQL("p"),
                        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(f->status), PX_V_TEXT(f->status),
                                  PX_V_TEXT(like), PX_V_TEXT(like), PX_V_TEXT(like),
                                  PX_PAGE_PARAMS(pg)),
                        11, &rows, err);
    free(like);
    if (rc)
        return rc;
    return px_page_collect_text(rows, &pg, summary_text, 5, 0, "pipelines", out, err);
}

int px_pipeline_set_status(const struct px_tenant *t, const char *id, const char *status,
                           struct json_object **out, struct px_error *err)
{
    int rc = px_pipeline_check(t, id, err);
    if (rc)
        return rc;
    int64_t changed = 0;
    rc = px_store_exec(t->store,
                       "UPDATE pipelines SET status = ?, updated_at = ? WHERE org_id = ? AND id = ?"
                       " AND deleted_at IS NULL AND status <> ?",
                       PX_PARAMS(PX_V_TEXT(status), PX_V_INT(px_now_ms()), PX_V_TEXT(t->org_id),
                                 PX_V_TEXT(id), PX_V_TEXT(status)),
                       5, &changed, err);
    if (rc)
        return rc;
    struct json_object *view;
    if ((rc = load_view(t, id, false, &view, err)))
        return rc;
    struct json_object *o = json_object_new_object();
    px_json_set_bool(o, "changed", changed > 0);
    px_json_set(o, "pipeline", view);
    *out = o;
    return 0;
}

int px_pipeline_update(const struct px_tenant *t, const char *id, const char *change_note,
                       struct json_object *graph, int64_t base_revision, bool dry_run,
                       struct json_object **out, struct px_error *err)
{
    *out = NULL;
    int rc = px_pipeline_check(t, id, err);
    if (rc)
        return rc;
    if (!graph)
        return needs_planner("update_pipeline", err);
    int64_t current = 0;
    rc = px_store_query_int(t->store, "SELECT revision FROM pipelines WHERE org_id = ? AND id = ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &current, err);
    if (rc < 0)
        return rc;
    if (base_revision >= 0 && base_revision != current) {
        rc = px_error_set(err, PX_ECONFLICT,
                          "conflict: the pipeline is at revision %lld, but base_revision is %lld",
                          (long long)current, (long long)base_revision);
        px_error_field(err, "base_revision");
        px_error_hint(err,
                      "someone changed it meanwhile: get_pipeline, re-apply your change to "
                      "revision %lld, and retry with base_revision %lld",
                      (long long)current, (long long)current);
        return rc;
    }
    struct json_object *conn_ids = NULL;
    if ((rc = validate_graph(t, graph, &conn_ids, err)))
        return rc;
    struct json_object *old = NULL;
    if ((rc = load_view(t, id, false, &old, err))) {
        json_object_put(conn_ids);
        return rc;
    }
    struct json_object *diff = px_graph_diff(px_json_get(old, "graph"), graph);
    bool same = px_json_equal(px_json_get(old, "graph"), graph);
    json_object_put(old);
    if (dry_run) {
        *out = dry_run_view(graph, conn_ids);
        px_json_set_int(*out, "current_revision", current);
        px_json_set_bool(*out, "changed", !same);
        px_json_set(*out, "diff", diff);
        json_object_put(conn_ids);
        return 0;
    }
    int64_t now = px_now_ms();
    if (!same && !(rc = px_store_begin(t->store, err))) {
        rc = px_store_exec(t->store,
                           "UPDATE pipelines SET revision = ?, updated_at = ? WHERE org_id = ?"
                           " AND id = ? AND revision = ?",
                           PX_PARAMS(PX_V_INT(current + 1), PX_V_INT(now), PX_V_TEXT(t->org_id),
                                     PX_V_TEXT(id), PX_V_INT(current)),
                           5, NULL, err);
        if (!rc)
            rc = insert_revision(t, id, current + 1, graph, change_note, now, err);
        if (!rc)
            rc = link_connections(t, id, conn_ids, err);
        rc = px_store_finish(t->store, rc, err);
    }
    json_object_put(conn_ids);
    struct json_object *view = NULL;
    if (rc || (rc = load_view(t, id, false, &view, err))) {
        json_object_put(diff);
        return rc;
    }
    struct json_object *o = json_object_new_object();
    px_json_set_bool(o, "dry_run", false);
    px_json_set_bool(o, "changed", !same);
    px_json_set(o, "diff", diff);
    px_json_set(o, "pipeline", view);
    *out = o;
    return 0;
}

int px_pipeline_delete(const struct px_tenant *t, const char *id, struct json_object **out,
                       struct px_error *err)
{
    int rc = px_pipeline_check(t, id, err);
    if (rc)
        return rc;
    int64_t now = px_now_ms(), disabled = 0;
    if ((rc = px_store_begin(t->store, err)))
        return rc;
    rc = px_store_exec(t->store,
                       "UPDATE pipelines SET deleted_at = ?, updated_at = ? WHERE org_id = ?"
                       " AND id = ? AND deleted_at IS NULL",
                       PX_PARAMS(PX_V_INT(now), PX_V_INT(now), PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
                       4, NULL, err);
    if (!rc)
        rc = px_store_exec(t->store,
                           "UPDATE schedules SET enabled = 0, next_fire_at = NULL, updated_at = ?"
                           " WHERE org_id = ? AND pipeline_id = ? AND enabled = 1",
                           PX_PARAMS(PX_V_INT(now), PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 3,
                           &disabled, err);
    rc = px_store_finish(t->store, rc, err);
    if (rc)
        return rc;
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "pipeline_id", id);
    px_json_set_bool(o, "deleted", true);
    px_json_set_int(o, "schedules_disabled", disabled);
    px_json_set_str(o, "restore",
                    "soft-deleted: an operator can restore it with `planasonix-mcp pipeline "
                    "restore PIPELINE_ID --org ORG`");
    *out = o;
    return 0;
}

/* The id of the live pipeline of the org named name, other than id, into holder ("" when
 * none). */
static int name_holder(const struct px_tenant *t, const char *name, const char *id,
                       char holder[PX_ID_MAX], struct px_error *err)
{
    struct px_rows *rows;
    holder[0] = '\0';
    int rc = px_store_query(t->store,
                            "SELECT id FROM pipelines WHERE org_id = ? AND name = ?"
                            " AND deleted_at IS NULL AND id <> ?",
                            PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(name), PX_V_TEXT(id)), 3,
                            &rows, err);
    if (rc)
        return rc;
    if ((rc = px_rows_next(rows, err)) == 1)
        snprintf(holder, PX_ID_MAX, "%s", px_rows_text(rows, 0));
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

static int rename_conflict(const char *holder, struct px_error *err)
{
    int rc = px_error_set(err, PX_ECONFLICT, "a pipeline with this name already exists (%s)",
                          holder[0] ? holder : "another pipeline");
    px_error_field(err, "name");
    px_error_hint(err, "choose another name (list_pipelines shows the names in use)");
    return rc;
}

int px_pipeline_rename(const struct px_tenant *t, const char *id, const char *name, bool dry_run,
                       bool *changed, struct px_error *err)
{
    *changed = false;
    int rc = px_pipeline_check(t, id, err);
    char holder[PX_ID_MAX];
    if (!rc)
        rc = name_holder(t, name, id, holder, err);
    if (rc)
        return rc;
    if (holder[0])
        return rename_conflict(holder, err);
    int64_t n = 0;
    if (dry_run) {
        rc = px_store_query_int(t->store,
                                "SELECT count(*) FROM pipelines WHERE org_id = ? AND id = ?"
                                " AND name <> ?",
                                PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_TEXT(name)), 3,
                                &n, err);
        *changed = n > 0;
        return rc < 0 ? rc : 0;
    }
    rc = px_store_exec(t->store,
                       "UPDATE pipelines SET name = ?, updated_at = ? WHERE org_id = ? AND id = ?"
                       " AND deleted_at IS NULL AND name <> ?",
                       PX_PARAMS(PX_V_TEXT(name), PX_V_INT(px_now_ms()), PX_V_TEXT(t->org_id),
                                 PX_V_TEXT(id), PX_V_TEXT(name)),
                       5, &n, err);
    if (rc == -PX_ECONFLICT) /* taken meanwhile */
        return rename_conflict("", err);
    *changed = n > 0;
    return rc;
}

int px_pipeline_restore(const struct px_tenant *t, const char *id, const char *new_name,
                        struct json_object **out, struct px_error *err)
{
    int rc = px_check_id(PX_ID_PIPELINE, "pipeline_id", id, err);
    if (rc)
        return rc;
    int64_t changed = 0;
    rc = px_store_exec(
        t->store,
        "UPDATE pipelines SET deleted_at = NULL, name = coalesce(?, name),"
        " updated_at = ? WHERE org_id = ? AND id = ? AND deleted_at IS NOT NULL",
        PX_PARAMS(PX_V_TEXT(new_name), PX_V_INT(px_now_ms()), PX_V_TEXT(t->org_id), PX_V_TEXT(id)),
        4, &changed, err);
    if (rc == -PX_ECONFLICT) {
        /* The only caller is the CLI: the hint names CLI commands. */
        char holder[PX_ID_MAX] = "";
        struct px_rows *rows;
        if (new_name) {
            name_holder(t, new_name, id, holder, NULL);
        } else if (!px_store_query(
                       t->store, "SELECT name FROM pipelines WHERE org_id = ? AND id = ?",
                       PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &rows, NULL)) {
            if (px_rows_next(rows, NULL) == 1)
                name_holder(t, px_rows_text(rows, 0), id, holder, NULL);
            px_rows_free(rows);
        }
        rc = px_error_set(err, PX_ECONFLICT,
                          "cannot restore: the live pipeline %s has the same name",
                          holder[0] ? holder : "of this organization");
        px_error_hint(err,
                      "restore it under another name: planasonix-mcp pipeline restore %s --org %s "
                      "--name NEW_NAME",
                      id, t->org_id);
        return rc;
    }
    if (rc)
        return rc;
    if (!changed) {
        rc = px_error_set(err, PX_ENOTFOUND, "no deleted pipeline %s in this organization", id);
        return rc;
    }
    return load_view(t, id, false, out, err);
}

/* Purges one deleted pipeline: every row that belongs to it, runs included. Refused while
 * one of its runs is queued or running. */
static int purge_one(const struct px_tenant *t, const char *id, struct px_error *err)
{
    int64_t busy = 0;
    int rc = px_store_query_int(t->store,
                                "SELECT count(*) FROM runs WHERE org_id = ? AND pipeline_id = ?"
                                " AND status IN ('queued', 'running')",
                                PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2, &busy, err);
    if (rc < 0)
        return rc;
    rc = 0;
    if (busy > 0) {
        rc = px_error_set(err, PX_ECONFLICT,
                          "pipeline %s has %lld run(s) queued or running; purge it once they "
                          "have ended",
                          id, (long long)busy);
        px_error_hint(err, "try again in a while: a run ends when it finishes or times out");
        return rc;
    }
    static const char *const sql[] = {
        "DELETE FROM pipeline_cursors WHERE org_id = ? AND pipeline_id = ?",
        "DELETE FROM pipeline_connections WHERE org_id = ? AND pipeline_id = ?",
        "DELETE FROM schedules WHERE org_id = ? AND pipeline_id = ?",
        "DELETE FROM runs WHERE org_id = ? AND pipeline_id = ?",
        "DELETE FROM pipeline_revisions WHERE org_id = ? AND pipeline_id = ?",
        "DELETE FROM pipelines WHERE org_id = ? AND id = ? AND deleted_at IS NOT NULL",
    };
    for (size_t i = 0; !rc && i < sizeof(sql) / sizeof(sql[0]); i++)
        rc = px_store_exec(t->store, sql[i], PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id)), 2,
                           NULL, err);
    return rc;
}

int px_pipeline_purge(const struct px_tenant *t, const char *id, struct json_object **out,
                      struct px_error *err)
{
    *out = NULL;
    int rc = id ? px_check_id(PX_ID_PIPELINE, "pipeline_id", id, err) : 0;
    if (rc)
        return rc;
    struct px_rows *rows;
    rc = px_store_query(t->store,
                        "SELECT id, name, deleted_at FROM pipelines WHERE org_id = ?"
                        " AND (? IS NULL AND deleted_at IS NOT NULL OR id = ?)"
                        " ORDER BY deleted_at, id",
                        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(id), PX_V_TEXT(id)), 3, &rows,
                        err);
    if (rc)
        return rc;
    struct json_object *list = json_object_new_array();
    bool live = false;
    while ((rc = px_rows_next(rows, err)) == 1) {
        live = live || px_rows_is_null(rows, 2);
        struct json_object *p = json_object_new_object();
        px_json_set_str(p, "pipeline_id", px_rows_text(rows, 0));
        char *name = px_text_clean(px_rows_text(rows, 1), 200, NULL);
        px_json_set_str(p, "name", name);
        free(name);
        json_object_array_add(list, p);
    }
    px_rows_free(rows);
    if (!rc && id && json_object_array_length(list) == 0)
        rc = px_error_set(err, PX_ENOTFOUND, "no pipeline %s in this organization", id);
    else if (!rc && live)
        rc = px_error_set(err, PX_EINVALID,
                          "pipeline %s is not deleted: purge removes only deleted pipelines", id);
    if (!rc && !(rc = px_store_begin(t->store, err))) {
        for (size_t i = 0; !rc && i < json_object_array_length(list); i++)
            rc = purge_one(t, px_json_get_str(json_object_array_get_idx(list, i), "pipeline_id"),
                           err);
        rc = px_store_finish(t->store, rc, err);
    }
    if (rc < 0) {
        json_object_put(list);
        return rc;
    }
    struct json_object *o = json_object_new_object();
    px_json_set(o, "purged", list);
    *out = o;
    return 0;
}
