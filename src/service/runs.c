/* Runs of pipelines: see runs.h. */
#include "service/runs.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/text.h"
#include "engine/engine.h"
#include "service/connections.h"
#include "service/pipelines.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ERROR_MESSAGE_MAX 500
#define ERROR_HINT_MAX 250
#define PROGRESS_EVERY_MS 250
#define STOP_GRACE_S 2
#define FAST_POLL_US 3000000
#define RUN_TIMEOUT_S_DEFAULT 3600
#define MAX_ATTEMPTS_DEFAULT 3
#define RETRY_BASE_MS_DEFAULT 1000
#define RETRY_CAP_MS 60000
#define BACKOFF_SLICE_US 50000

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

/* ---- process identity ------------------------------------------------------------------- */

/* The start time of a process in clock ticks since boot (/proc/PID/stat field 22), or 0. */
static unsigned long long proc_start_ticks(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may contain spaces */
    if (!p)
        return 0;
    p++;
    /* Fields after the name start at 3 (state); the start time is field 22. */
    for (int field = 2; field < 22 && p; field++) {
        p = strchr(p + 1, ' ');
    }
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

static char self_token[64];
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_init(void)
{
    snprintf(self_token, sizeof(self_token), "%ld:%llu", (long)getpid(),
             proc_start_ticks((long)getpid()));
}

const char *px_run_self(void)
{
    pthread_once(&self_once, self_init);
    return self_token;
}

/* Whether the process named by a runner token is alive. */
static bool runner_alive(const char *token)
{
    if (!token)
        return false;
    if (strcmp(token, px_run_self()) == 0)
        return true;
    char *end;
    long pid = strtol(token, &end, 10);
    if (pid <= 0 || *end != ':')
        return false;
    unsigned long long ticks = strtoull(end + 1, NULL, 10);
    unsigned long long now = proc_start_ticks(pid);
    return now != 0 && now == ticks;
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

/* ---- health ----------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static int64_t percentile(const int64_t *v, size_t n, int pct)
{
    size_t rank = (size_t)((pct * n + 99) / 100);
    return v[rank ? rank - 1 : 0];
}

static int64_t window_ms(const char *w)
{
    if (!w)
        return 7LL * 86400000;
    char *end;
    long n = strtol(w, &end, 10);
    if (n <= 0 || n > 9999)
        return -1;
    if (strcmp(end, "h") == 0)
        return n * 3600000LL;
    if (strcmp(end, "d") == 0)
        return n * 86400000LL;
    return -1;
}

static void reason(struct json_object *arr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void reason(struct json_object *arr, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_object_array_add(arr, json_object_new_string(buf));
}

/* "90 minutes", "26 hours", "2 days": a duration in minutes, for SLA reasons. */
static void minutes_text(int64_t m, char *out, size_t size)
{
    if (m % 1440 == 0 && m >= 1440)
        snprintf(out, size, "%lld day%s", (long long)(m / 1440), m == 1440 ? "" : "s");
    else if (m % 60 == 0 && m >= 60)
        snprintf(out, size, "%lld hour%s", (long long)(m / 60), m == 60 ? "" : "s");
    else
        snprintf(out, size, "%lld minute%s", (long long)m, m == 1 ? "" : "s");
}

int px_run_health(const struct px_tenant *t, const char *pipeline_id, const char *window,
                  struct json_object **out, struct px_error *err)
{
    int rc = px_pipeline_check(t, pipeline_id, err);
    if (rc)
        return rc;
    int64_t span = window_ms(window);
    if (span < 0) {
        rc = px_error_set(err, PX_EINVALID,
                          "window must be a number of hours or days such as "
                          "\"24h\" or \"7d\"");
        px_error_field(err, "window");
        return rc;
    }
    int64_t now = px_now_ms(), since = now - span;
    struct px_rows *rows;
    rc = px_store_query(t->store,
                        "SELECT status, started_at, finished_at, rows_written FROM runs"
                        " WHERE org_id = ? AND pipeline_id = ? AND queued_at >= ?"
                        " ORDER BY queued_at, id",
                        PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id), PX_V_INT(since)), 3,
                        &rows, err);
    if (rc)
        return rc;
    int64_t total = 0, ok = 0, bad = 0, other = 0, processed = 0;
    size_t nd = 0, cap = 0;
    int64_t *durations = NULL;
    char last_status[16] = "";
    while ((rc = px_rows_next(rows, err)) == 1) {
        const char *st = px_rows_text(rows, 0);
        total++;
        if (strcmp(st, "succeeded") == 0)
            ok++;
        else if (strcmp(st, "failed") == 0 || strcmp(st, "timed_out") == 0)
            bad++;
        else
            other++;
        if (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
            strcmp(st, "timed_out") == 0)
            snprintf(last_status, sizeof(last_status), "%s", st);
        processed += px_rows_int(rows, 3);
        if (!px_rows_is_null(rows, 1) && !px_rows_is_null(rows, 2) && strcmp(st, "running") != 0) {
            if (nd == cap) {
                cap = cap ? cap * 2 : 64;
                durations = px_xrealloc(durations, cap * sizeof(*durations));
            }
            int64_t d = px_rows_int(rows, 2) - px_rows_int(rows, 1);
            durations[nd++] = d < 0 ? 0 : d;
        }
    }
    px_rows_free(rows);
    if (rc < 0) {
        free(durations);
        return rc;
    }
    int64_t last_ok = 0, sla_min = 0;
    int found = px_store_query_int(t->store,
                                   "SELECT max(finished_at) FROM runs WHERE org_id = ? AND"
                                   " pipeline_id = ? AND status = 'succeeded'",
                                   PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)), 2,
                                   &last_ok, err);
    int has_sla = found < 0
                      ? found
                      : px_store_query_int(t->store,
                                           "SELECT freshness_sla_minutes FROM pipelines"
                                           " WHERE org_id = ? AND id = ?"
                                           " AND freshness_sla_minutes IS NOT NULL",
                                           PX_PARAMS(PX_V_TEXT(t->org_id), PX_V_TEXT(pipeline_id)),
                                           2, &sla_min, err);
    if (found < 0 || has_sla < 0) {
        free(durations);
        return found < 0 ? found : has_sla;
    }
    if (found != 1)
        last_ok = 0;

    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "pipeline_id", pipeline_id);
    px_json_set_str(o, "window", window ? window : "7d");
    struct json_object *counts = json_object_new_object();
    px_json_set_int(counts, "total", total);
    px_json_set_int(counts, "succeeded", ok);
    px_json_set_int(counts, "failed", bad);
    px_json_set_int(counts, "other", other);
    px_json_set(o, "runs", counts);
    px_json_set(o, "error_rate",
                ok + bad ? json_object_new_double((double)bad / (double)(ok + bad)) : NULL);
    struct json_object *dur = json_object_new_object();
    if (nd) {
        qsort(durations, nd, sizeof(*durations), cmp_i64);
        px_json_set_int(dur, "p50", percentile(durations, nd, 50));
        px_json_set_int(dur, "p95", percentile(durations, nd, 95));
    } else {
        px_json_set(dur, "p50", NULL);
        px_json_set(dur, "p95", NULL);
    }
    free(durations);
    px_json_set(o, "duration_ms", dur);
    px_json_set_int(o, "rows_processed", processed);
    int64_t lag_s = last_ok > 0 ? (now - last_ok) / 1000 : -1;
    if (last_ok > 0) {
        px_json_set_time(o, "last_success_at", last_ok);
        px_json_set_int(o, "freshness_lag_seconds", lag_s < 0 ? 0 : lag_s);
    } else {
        px_json_set(o, "last_success_at", NULL);
        px_json_set(o, "freshness_lag_seconds", NULL);
    }

    struct json_object *sla = json_object_new_object(), *reasons = json_object_new_array();
    const char *status;
    char limit_text[48];
    minutes_text(sla_min, limit_text, sizeof(limit_text));
    if (has_sla != 1 || sla_min <= 0) {
        status = "unknown";
        reason(reasons, "the pipeline has no freshness SLA, so there is nothing to measure "
                        "against");
    } else if (last_ok <= 0) {
        status = "breached";
        reason(reasons, "no run has succeeded yet; the SLA asks for a success within %s",
               limit_text);
    } else {
        int64_t lag_min = lag_s / 60;
        if (lag_s > sla_min * 60) {
            status = "breached";
            reason(reasons, "the last success was %lld minutes ago, beyond the %s SLA",
                   (long long)lag_min, limit_text);
        } else if (lag_s * 10 > sla_min * 60 * 8) {
            status = "at_risk";
            reason(reasons, "the last success was %lld minutes ago, over 80%% of the %s SLA",
                   (long long)lag_min, limit_text);
        } else {
            status = "met";
        }
        if (strcmp(last_status, "failed") == 0 || strcmp(last_status, "timed_out") == 0) {
            if (strcmp(status, "met") == 0)
                status = "at_risk";
            reason(reasons, "the latest finished run failed");
        }
        if (strcmp(status, "met") == 0)
            reason(reasons, "the last success was %lld minutes ago, within the %s SLA",
                   (long long)lag_min, limit_text);
    }
    px_json_set_str(sla, "status", status);
    px_json_set(sla, "reasons", reasons);
    px_json_set(o, "sla", sla);
    *out = o;
    return 0;
}

/* ---- execution -------------------------------------------------------------------------- */

struct exec_ctx {
    struct px_tenant tenant;
    pthread_mutex_t lock; /* the store handle, should the engine call back from its threads */
    const char *run_id;
    int64_t last_progress_ms;
    bool (*stop)(void *);
    void *stop_ctx;
    bool stopped;
    int64_t deadline_us; /* px_mono_us() past which the run has timed out */
    bool timed_out;
};

static int resolve_conn(void *vctx, const char *connection_id, struct json_object **out,
                        struct px_error *err)
{
    struct exec_ctx *x = vctx;
    pthread_mutex_lock(&x->lock);
    int rc = px_connection_secret_params(&x->tenant, connection_id, out, err);
    pthread_mutex_unlock(&x->lock);
    return rc;
}

static bool exec_cancelled(void *vctx)
{
    struct exec_ctx *x = vctx;
    if (!x->stopped && x->stop && x->stop(x->stop_ctx))
        x->stopped = true;
    if (!x->stopped && !x->timed_out && px_mono_us() >= x->deadline_us)
        x->timed_out = true;
    return x->stopped || x->timed_out;
}

static void exec_progress(void *vctx, int64_t rows_written)
{
    struct exec_ctx *x = vctx;
    int64_t now = px_now_ms();
    pthread_mutex_lock(&x->lock);
    if (now - x->last_progress_ms >= PROGRESS_EVERY_MS) {
        x->last_progress_ms = now;
        px_store_exec(
            x->tenant.store,
            "UPDATE runs SET rows_written = ? WHERE org_id = ? AND id = ?"
            " AND status = 'running'",
            PX_PARAMS(PX_V_INT(rows_written), PX_V_TEXT(x->tenant.org_id), PX_V_TEXT(x->run_id)), 3,
            NULL, NULL);
    }
    pthread_mutex_unlock(&x->lock);
}

/* A copy of s without the server's files root (paths are shown relative to it). */
static char *strip_root(const char *s, const char *root)
{
    size_t rn = root ? strlen(root) : 0;
    while (rn > 1 && root[rn - 1] == '/')
        rn--;
    char *out = px_xstrdup(s), *w = out;
    for (const char *p = s; *p;) {
        if (rn > 1 && strncmp(p, root, rn) == 0) {
            p += rn;
            if (*p == '/')
                p++;
            continue;
        }
        *w++ = *p++;
    }
    *w = '\0';
    return out;
}

/* {code, message, node_id, retryable, hint}, cleaned and capped; files_root (may be NULL) is
 * removed from the message. */
static struct json_object *error_json(const char *code, const char *message, const char *node_id,
                                      bool retryable, const char *hint, const char *files_root)
{
    struct json_object *e = json_object_new_object();
    px_json_set_str(e, "code", code);
    char *raw = strip_root(message && *message ? message : "the run failed", files_root);
    char *m = px_text_clean(raw, ERROR_MESSAGE_MAX, NULL);
    free(raw);
    px_json_set_str(e, "message", m);
    free(m);
    px_json_set_str(e, "node_id", node_id && *node_id ? node_id : NULL);
    px_json_set_bool(e, "retryable", retryable);
    if (hint && *hint) {
        char *h = px_text_clean(hint, ERROR_HINT_MAX, NULL);
        px_json_set_str(e, "hint", h);
        free(h);
    }
    return e;
}

static struct json_object *interrupted_error(void)
{
    return error_json("interrupted", "the server stopped during the run, so it did not finish",
                      NULL, true, "trigger the pipeline again", NULL);
}

static int finish_run(struct px_store *st, const char *org_id, const char *run_id,
                      const char *status, int64_t rows_read, int64_t rows_written,
                      struct json_object *error, struct json_object *nodes, struct px_error *err)
{
    return px_store_exec(
        st,
        "UPDATE runs SET status = ?, finished_at = ?, rows_read = ?, rows_written = ?, error = ?,"
        " nodes = ?, runner = NULL WHERE org_id = ? AND id = ? AND status = 'running'",
        PX_PARAMS(PX_V_TEXT(status), PX_V_INT(px_now_ms()), PX_V_INT(rows_read),
                  PX_V_INT(rows_written), PX_V_TEXT(error ? px_json_str(error) : NULL),
                  PX_V_TEXT(nodes ? px_json_str(nodes) : NULL), PX_V_TEXT(org_id),
                  PX_V_TEXT(run_id)),
        8, NULL, err);
}

/* ---- incremental positions ---------------------------------------------------------------- */

/* {node_id: position} of the pipeline's cursors (engine/cursor.h), or NULL when it has none. */
static int load_cursors(struct px_store *st, const char *org_id, const char *pipeline_id,
                        struct json_object **out, struct px_error *err)
{
    struct px_rows *rows;
    *out = NULL;
    int rc = px_store_query(st,
                            "SELECT node_id, position FROM pipeline_cursors"
                            " WHERE org_id = ? AND pipeline_id = ?",
                            PX_PARAMS(PX_V_TEXT(org_id), PX_V_TEXT(pipeline_id)), 2, &rows, err);
    if (rc)
        return rc;
    while ((rc = px_rows_next(rows, err)) == 1) {
        struct json_object *pos = json_tokener_parse(px_rows_text(rows, 1));
        if (!pos)
            continue; /* unreadable: that source reads everything again */
        if (!*out)
            *out = json_object_new_object();
        px_json_set(*out, px_rows_text(rows, 0), pos);
    }
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

static int store_cursors(struct px_store *st, const char *org_id, const char *pipeline_id,
                         const char *run_id, struct json_object *cursors, struct px_error *err)
{
    int rc = 0;
    json_object_object_foreach(cursors, node_id, pos)
    {
        if (rc)
            break;
        rc = px_store_exec(st,
                           "INSERT INTO pipeline_cursors (org_id, pipeline_id, node_id, position,"
                           " run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (org_id, pipeline_id, node_id) DO UPDATE SET"
                           " position = excluded.position, run_id = excluded.run_id,"
                           " updated_at = excluded.updated_at",
                           PX_PARAMS(PX_V_TEXT(org_id), PX_V_TEXT(pipeline_id), PX_V_TEXT(node_id),
                                     PX_V_TEXT(px_json_str(pos)), PX_V_TEXT(run_id),
                                     PX_V_INT(px_now_ms())),
                           6, NULL, err);
    }
    return rc;
}

/* ---- timeout and retries ---------------------------------------------------------------- */

static px_run_engine_fn engine_hook;

void px_run_set_engine_hook(px_run_engine_fn fn)
{
    engine_hook = fn;
}

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return def;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < lo || n > hi ? def : n;
}

/* PLANASONIX_RUN_TIMEOUT_S: seconds (fractions allowed), default 3600. */
static double run_timeout_s(void)
{
    const char *v = getenv("PLANASONIX_RUN_TIMEOUT_S");
    if (v && *v) {
        char *end;
        double d = strtod(v, &end);
        if (!*end && isfinite(d) && d > 0 && d <= 366.0 * 86400)
            return d;
    }
    return RUN_TIMEOUT_S_DEFAULT;
}

/* Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
static int64_t backoff_ms(int attempt, int64_t base_ms)
{
    int64_t ceil_ms = base_ms;
    for (int i = 1; i < attempt && ceil_ms < RETRY_CAP_MS; i++)
        ceil_ms *= 2;
    if (ceil_ms > RETRY_CAP_MS)
        ceil_ms = RETRY_CAP_MS;
    return ceil_ms <= 0 ? 0 : (int64_t)randombytes_uniform((uint32_t)ceil_ms + 1);
}

/* Sleeps delay_ms in slices, polling the stop flag and the deadline; true when either ended
 * the wait early. */
static bool backoff_wait(struct exec_ctx *x, int64_t delay_ms)
{
    int64_t until = px_mono_us() + delay_ms * 1000;
    for (;;) {
        if (exec_cancelled(x))
            return true;
        int64_t left = until - px_mono_us();
        if (left <= 0)
            return false;
        if (left > BACKOFF_SLICE_US)
            left = BACKOFF_SLICE_US;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000};
        nanosleep(&ts, NULL);
    }
}

int px_run_claim(struct px_store *st, char org_id[40], char run_id[40], struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT org_id, id FROM runs WHERE status = 'queued'"
                            " ORDER BY queued_at, id LIMIT 8",
                            NULL, 0, &rows, err);
    if (rc)
        return rc;
    char cand[8][2][40];
    int n = 0;
    while (n < 8 && (rc = px_rows_next(rows, err)) == 1) {
        snprintf(cand[n][0], 40, "%s", px_rows_text(rows, 0));
        snprintf(cand[n][1], 40, "%s", px_rows_text(rows, 1));
        n++;
    }
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++) {
        int64_t changed = 0;
        rc = px_store_exec(st,
                           "UPDATE runs SET status = 'running', started_at = ?, runner = ?"
                           " WHERE org_id = ? AND id = ? AND status = 'queued'",
                           PX_PARAMS(PX_V_INT(px_now_ms()), PX_V_TEXT(px_run_self()),
                                     PX_V_TEXT(cand[i][0]), PX_V_TEXT(cand[i][1])),
                           4, &changed, err);
        if (rc)
            return rc;
        if (changed == 1) {
            memcpy(org_id, cand[i][0], 40);
            memcpy(run_id, cand[i][1], 40);
            return 1;
        }
    }
    return 0;
}

int px_run_execute(struct px_store *st, const struct px_keyring *keyring, const char *files_root,
                   const char *org_id, const char *run_id, bool (*stop)(void *), void *stop_ctx,
                   struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT r.graph, x.pipeline_id FROM runs x JOIN pipeline_revisions r"
                            " ON r.org_id = x.org_id AND r.pipeline_id = x.pipeline_id"
                            " AND r.revision = x.revision WHERE x.org_id = ? AND x.id = ?",
                            PX_PARAMS(PX_V_TEXT(org_id), PX_V_TEXT(run_id)), 2, &rows, err);
    if (rc)
        return rc;
    struct json_object *graph = NULL;
    char pipeline_id[40] = "";
    if ((rc = px_rows_next(rows, err)) == 1) {
        graph = json_tokener_parse(px_rows_text(rows, 0));
        snprintf(pipeline_id, sizeof(pipeline_id), "%s", px_rows_text(rows, 1));
    }
    px_rows_free(rows);
    if (rc < 0)
        return rc;
    if (!graph) {
        struct json_object *e =
            error_json("internal_error",
                       "the run's pipeline revision is "
                       "missing or unreadable",
                       NULL, false, "update the pipeline and trigger it again", NULL);
        rc = finish_run(st, org_id, run_id, "failed", 0, 0, e, NULL, err);
        json_object_put(e);
        return rc;
    }

    double limit_s = run_timeout_s();
    struct exec_ctx x = {
        .tenant = {.store = st, .keyring = keyring, .org_id = org_id},
        .run_id = run_id,
        .stop = stop,
        .stop_ctx = stop_ctx,
        .deadline_us = px_mono_us() + (int64_t)(limit_s * 1e6),
    };
    pthread_mutex_init(&x.lock, NULL);
    struct json_object *cursors = NULL;
    if ((rc = load_cursors(st, org_id, pipeline_id, &cursors, err))) {
        json_object_put(graph);
        pthread_mutex_destroy(&x.lock);
        return rc;
    }
    struct px_engine_opts opts = {
        .cursors = cursors,
        .conn = resolve_conn,
        .conn_ctx = &x,
        .files_root = files_root,
        .now_us = px_now_ms() * 1000,
        .cancelled = exec_cancelled,
        .cancel_ctx = &x,
        .progress = exec_progress,
        .progress_ctx = &x,
    };
    int max_attempts = env_long("PLANASONIX_RUN_MAX_ATTEMPTS", MAX_ATTEMPTS_DEFAULT, 1, 100);
    int64_t base_ms = env_long("PLANASONIX_RETRY_BASE_MS", RETRY_BASE_MS_DEFAULT, 0, RETRY_CAP_MS);
    int attempt = 1;
    struct px_engine_result res = {0};
    struct px_error e;
    int erc;
    for (;;) {
        px_error_clear(&e);
        memset(&res, 0, sizeof(res));
        erc = (engine_hook ? engine_hook : px_engine_run)(graph, &opts, &res, &e);
        if (!erc || !e.retryable || attempt >= max_attempts || exec_cancelled(&x))
            break;
        int64_t delay_ms = backoff_ms(attempt, base_ms);
        px_info("run %s: attempt %d failed (%s); retrying in %lld ms", run_id, attempt, e.message,
                (long long)delay_ms);
        if (backoff_wait(&x, delay_ms))
            break; /* stopped or timed out while waiting: the outcome below says which */
        px_engine_result_cleanup(&res);
        attempt++;
        if ((rc = px_store_exec(st,
                                "UPDATE runs SET attempt = ?, rows_written = 0"
                                " WHERE org_id = ? AND id = ? AND status = 'running'",
                                PX_PARAMS(PX_V_INT(attempt), PX_V_TEXT(org_id), PX_V_TEXT(run_id)),
                                3, NULL, err))) {
            json_object_put(graph);
            json_object_put(cursors);
            pthread_mutex_destroy(&x.lock);
            return rc;
        }
    }
    json_object_put(graph);
    json_object_put(cursors);
    pthread_mutex_destroy(&x.lock);

    struct json_object *ej = NULL;
    const char *status = "succeeded";
    if (erc) {
        status = "failed";
        if (x.stopped) {
            ej = interrupted_error();
        } else if (x.timed_out) {
            status = "timed_out";
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "the run exceeded its time limit of %g s (attempt %d) and was stopped",
                     limit_s, attempt);
            ej = error_json("timed_out", msg, res.failed_node, false,
                            "raise PLANASONIX_RUN_TIMEOUT_S (seconds, default 3600) on the "
                            "server, or make the pipeline do less per run",
                            NULL);
        } else {
            char *msg = NULL;
            const char *m = e.message;
            if (e.retryable && attempt > 1) {
                size_t n = strlen(e.message) + 64;
                msg = px_xmalloc(n);
                snprintf(msg, n, "%s (failed %d attempts)", e.message, attempt);
                m = msg;
            }
            ej = error_json(px_err_name(e.code ? e.code : erc), m, res.failed_node, e.retryable,
                            e.hint, files_root);
            free(msg);
        }
    }
    if (!erc && res.cursors) {
        /* The new positions commit with the success, or not at all. */
        if (!(rc = px_store_begin(st, err))) {
            rc = finish_run(st, org_id, run_id, status, res.rows_read, res.rows_written, ej,
                            res.nodes, err);
            if (!rc)
                rc = store_cursors(st, org_id, pipeline_id, run_id, res.cursors, err);
            rc = px_store_finish(st, rc, err);
        }
    } else {
        rc = finish_run(st, org_id, run_id, status, res.rows_read, res.rows_written, ej, res.nodes,
                        err);
    }
    json_object_put(ej);
    px_engine_result_cleanup(&res);
    return rc;
}

int px_runs_recover(struct px_store *st, bool include_self, int *count, struct px_error *err)
{
    if (count)
        *count = 0;
    struct px_rows *rows;
    int rc = px_store_query(st,
                            "SELECT org_id, id, runner FROM runs"
                            " WHERE status IN ('queued', 'running')",
                            NULL, 0, &rows, err);
    if (rc)
        return rc;
    struct json_object *dead = json_object_new_array();
    while ((rc = px_rows_next(rows, err)) == 1) {
        const char *runner = px_rows_text(rows, 2);
        bool mine = runner && strcmp(runner, px_run_self()) == 0;
        if (mine ? !include_self : runner_alive(runner))
            continue;
        struct json_object *pair = json_object_new_array();
        json_object_array_add(pair, json_object_new_string(px_rows_text(rows, 0)));
        json_object_array_add(pair, json_object_new_string(px_rows_text(rows, 1)));
        json_object_array_add(dead, pair);
    }
    px_rows_free(rows);
    struct json_object *e = interrupted_error();
    size_t n = json_object_array_length(dead);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        struct json_object *pair = json_object_array_get_idx(dead, i);
        int64_t changed = 0, now = px_now_ms();
        rc = px_store_exec(
            st,
            "UPDATE runs SET status = 'failed', finished_at = ?,"
            " started_at = coalesce(started_at, ?), error = ?, runner = NULL"
            " WHERE org_id = ? AND id = ? AND status IN ('queued', 'running')",
            PX_PARAMS(PX_V_INT(now), PX_V_INT(now), PX_V_TEXT(px_json_str(e)),
                      PX_V_TEXT(json_object_get_string(json_object_array_get_idx(pair, 0))),
                      PX_V_TEXT(json_object_get_string(json_object_array_get_idx(pair, 1)))),
            5, &changed, err);
        if (rc >= 0 && count)
            *count += (int)changed;
    }
    json_object_put(e);
    json_object_put(dead);
    return rc < 0 ? rc : 0;
}

/* ---- worker pool ------------------------------------------------------------------------ */

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static unsigned long wake_seq;

static _Atomic int64_t last_wake_us;

void px_run_workers_wake(void)
{
    atomic_store(&last_wake_us, px_mono_us());
    pthread_mutex_lock(&wake_lock);
    wake_seq++;
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
}

struct px_run_workers {
    const struct px_keyring *keyring;
    char *files_root;
    char *store_url;
    atomic_bool stop;
    atomic_int running; /* worker threads not yet returned */
    int n;              /* threads started */
    int nstores;        /* store handles (one per thread) */
    pthread_t *threads;
    struct px_store **stores;
};

struct worker_arg {
    struct px_run_workers *w;
    int index;
};

static bool worker_stopping(void *ctx)
{
    struct px_run_workers *w = ctx;
    return atomic_load(&w->stop);
}

static void *worker_main(void *arg)
{
    struct px_run_workers *w = ((struct worker_arg *)arg)->w;
    struct px_store *st = w->stores[((struct worker_arg *)arg)->index];
    free(arg);
    while (!atomic_load(&w->stop)) {
        pthread_mutex_lock(&wake_lock);
        unsigned long seen = wake_seq;
        pthread_mutex_unlock(&wake_lock);
        char org[40], run[40];
        struct px_error err;
        int rc = px_run_claim(st, org, run, &err);
        if (rc == 1) {
            if (px_run_execute(st, w->keyring, w->files_root, org, run, worker_stopping, w, &err))
                px_warn("run %s: recording the outcome failed: %s", run, err.message);
            continue;
        }
        if (rc < 0)
            px_warn("run workers: %s", err.message);
        /* Idle: wait for a trigger, or poll for runs other processes queued: every 100 ms
         * for a while after a wake (the trigger's transaction may not have committed yet),
         * else every second. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        if (px_mono_us() - atomic_load(&last_wake_us) < FAST_POLL_US) {
            until.tv_nsec += 100000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
        } else {
            until.tv_sec += 1;
        }
        pthread_mutex_lock(&wake_lock);
        while (wake_seq == seen && !atomic_load(&w->stop)) {
            if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until) == ETIMEDOUT)
                break;
        }
        pthread_mutex_unlock(&wake_lock);
    }
    pthread_mutex_lock(&wake_lock);
    atomic_fetch_sub(&w->running, 1);
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
    return NULL;
}

static int default_workers(void)
{
    const char *env = getenv("PLANASONIX_WORKERS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v >= 1 && v <= 64)
            return (int)v;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > 16 ? 16 : (int)cores;
}

int px_run_workers_start(const char *store_url, const struct px_keyring *keyring,
                         const char *files_root, int n, struct px_run_workers **out,
                         struct px_error *err)
{
    *out = NULL;
    if (n <= 0)
        n = default_workers();
    struct px_run_workers *w = px_xcalloc(1, sizeof(*w));
    w->keyring = keyring;
    w->files_root = px_xstrdup(files_root);
    w->store_url = px_xstrdup(store_url);
    atomic_init(&w->stop, false);
    atomic_init(&w->running, 0);
    w->stores = px_xcalloc((size_t)n, sizeof(*w->stores));
    w->threads = px_xcalloc((size_t)n, sizeof(*w->threads));
    int rc = 0;
    w->nstores = n;
    for (int i = 0; !rc && i < n; i++)
        rc = px_store_open(store_url, &w->stores[i], err);
    int recovered = 0;
    if (!rc)
        rc = px_runs_recover(w->stores[0], false, &recovered, err);
    if (rc) {
        for (int i = 0; i < n; i++)
            px_store_close(w->stores[i]);
        free(w->stores);
        free(w->threads);
        free(w->files_root);
        free(w->store_url);
        free(w);
        return rc;
    }
    if (recovered)
        px_info("runs: marked %d run(s) interrupted by an earlier stop as failed", recovered);
    for (int i = 0; i < n; i++) {
        struct worker_arg *a = px_xmalloc(sizeof(*a));
        *a = (struct worker_arg){.w = w, .index = i};
        atomic_fetch_add(&w->running, 1);
        if (pthread_create(&w->threads[i], NULL, worker_main, a) != 0) {
            atomic_fetch_sub(&w->running, 1);
            free(a);
            px_warn("runs: could only start %d worker thread(s)", i);
            break;
        }
        w->n = i + 1;
    }
    *out = w;
    return 0;
}

void px_run_workers_stop(struct px_run_workers *w)
{
    if (!w)
        return;
    atomic_store(&w->stop, true);
    px_run_workers_wake();
    /* Running runs see the stop between batches; a worker stuck in a slow call (a connect
     * that has not timed out yet) is not waited for past the grace period. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STOP_GRACE_S;
    pthread_mutex_lock(&wake_lock);
    while (atomic_load(&w->running) > 0) {
        if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&wake_lock);
    bool all_done = atomic_load(&w->running) == 0;
    struct px_error err;
    int count = 0;
    /* Own handle: the workers' handles may still be in use. */
    struct px_store *st = NULL;
    if (px_store_open(w->store_url, &st, &err) == 0 &&
        px_runs_recover(st, true, &count, &err) == 0) {
        if (count)
            px_info("runs: %d unfinished run(s) marked interrupted", count);
    } else {
        px_warn("runs: marking unfinished runs interrupted failed: %s", err.message);
    }
    px_store_close(st);
    if (!all_done) {
        /* The process is exiting: leave the stuck threads (and what they use) alone. */
        px_warn("runs: %d worker(s) still busy at shutdown; their runs are marked interrupted",
                (int)atomic_load(&w->running));
        for (int i = 0; i < w->n; i++)
            pthread_detach(w->threads[i]);
        return;
    }
    for (int i = 0; i < w->n; i++)
        pthread_join(w->threads[i], NULL);
    for (int i = 0; i < w->nstores; i++)
        px_store_close(w->stores[i]);
    free(w->stores);
    free(w->threads);
    free(w->files_root);
    free(w->store_url);
    free(w);
}
