/* The scheduler loop: see schedule_loop.h. */
#include "service/schedule_loop.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "sched/cron.h"
#include "sched/next.h"
#include "base/zones.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Due schedules handled per transaction; a tick loops until none is due. */
#define TICK_BATCH 256
/* Slots walked to find the latest due one after downtime (a year of every-minute slots). */
#define WALK_MAX 600000

/* ---- next slots --------------------------------------------------------------------------- */

/* The first slot of cron in tz strictly after after_ms: 1 and *out (ms), or 0 when none. */
static int slot_after(const struct px_cron *cron, const struct px_tz *tz, int64_t after_ms,
                      int64_t *out)
{
    struct px_fire f;
    /* Slots are whole seconds: "after" rounds down so a slot at exactly after_ms is not
     * returned again. */
    int64_t after_s = after_ms >= 0 ? after_ms / 1000 : -((-after_ms + 999) / 1000);
    if (px_cron_next(cron, tz, after_s, &f) < 0)
        return 0;
    *out = f.at * 1000;
    return 1;
}

/* Parses expr and finds zone: 0, or negative when either no longer loads (a schedule stored
 * before a tzdata change). */
static int load_schedule(const char *expr, const char *zone, struct px_cron *cron,
                         const struct px_tz **tz, struct px_error *err)
{
    int rc = px_cron_parse(expr, cron, err);
    if (rc)
        return rc;
    *tz = px_zone_get(zone, err);
    return *tz ? 0 : -PX_EINVALID;
}

int px_sched_next_slot(const char *expr, const char *zone, int64_t after_ms, int64_t *out,
                       struct px_error *err)
{
    struct px_cron cron;
    const struct px_tz *tz = NULL;
    int rc = load_schedule(expr, zone, &cron, &tz, err);
    return rc < 0 ? rc : slot_after(&cron, tz, after_ms, out);
}

/* ---- one tick ----------------------------------------------------------------------------- */

struct due {
    char org[40], id[40], pipeline[40];
    char *expr, *zone;
    char misfire[16], overlap[8];
    int64_t next_ms; /* -1: not computed yet */
    bool paused;
};

static void due_free(struct due *d, int n)
{
    for (int i = 0; i < n; i++) {
        free(d[i].expr);
        free(d[i].zone);
    }
    free(d);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* The due schedules at now_ms, or with unset (NULL) next slots when unset. */
static int load_due(struct px_store *st, int64_t now_ms, bool unset, struct due **out, int *n,
                    struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(
        st,
        "SELECT s.org_id, s.id, s.pipeline_id, s.cron_expression, s.timezone, s.misfire,"
        " s.overlap, s.next_fire_at, p.status FROM schedules s JOIN pipelines p"
        " ON p.org_id = s.org_id AND p.id = s.pipeline_id AND p.deleted_at IS NULL"
        " WHERE s.enabled = 1 AND (CASE WHEN ? = 1 THEN s.next_fire_at IS NULL"
        " ELSE s.next_fire_at <= ? END) ORDER BY s.next_fire_at LIMIT ?",
        PX_PARAMS(PX_V_INT(unset), PX_V_INT(now_ms), PX_V_INT(TICK_BATCH)), 3, &rows, err);
    if (rc)
        return rc;
    struct due *d = px_xcalloc(TICK_BATCH, sizeof(*d));
    int count = 0;
    while ((rc = px_rows_next(rows, err)) == 1 && count < TICK_BATCH) {
        struct due *x = &d[count++];
        copy_text(x->org, sizeof(x->org), px_rows_text(rows, 0));
        copy_text(x->id, sizeof(x->id), px_rows_text(rows, 1));
        copy_text(x->pipeline, sizeof(x->pipeline), px_rows_text(rows, 2));
        x->expr = px_xstrdup(px_rows_text(rows, 3));
        x->zone = px_xstrdup(px_rows_text(rows, 4));
        copy_text(x->misfire, sizeof(x->misfire), px_rows_text(rows, 5));
        copy_text(x->overlap, sizeof(x->overlap), px_rows_text(rows, 6));
        x->next_ms = px_rows_is_null(rows, 7) ? -1 : px_rows_int(rows, 7);
        x->paused = strcmp(px_rows_text(rows, 8), "paused") == 0;
    }
    px_rows_free(rows);
    if (rc < 0) {
        due_free(d, count);
        return rc;
    }
    *out = d;
    *n = count;
    return 0;
}

/* The id of a queued or running run of the pipeline into busy ("" when none). */
static int busy_run(struct px_store *st, const struct due *d, char busy[40], struct px_error *err)
{
    struct px_rows *rows;
    busy[0] = '\0';
    int rc = px_store_query(st,
                            "SELECT id FROM runs WHERE org_id = ? AND pipeline_id = ?"
                            " AND status IN ('queued', 'running') LIMIT 1",
                            PX_PARAMS(PX_V_TEXT(d->org), PX_V_TEXT(d->pipeline)), 2, &rows, err);
    if (rc)
        return rc;
    if ((rc = px_rows_next(rows, err)) == 1)
        copy_text(busy, 40, px_rows_text(rows, 0));
    px_rows_free(rows);
    return rc < 0 ? rc : 0;
}

/* Inserts the run row of slot (queued, or skipped with reason); *inserted is false when the
 * slot already has one (another process fired it). */
static int insert_run(struct px_store *st, const struct px_sched_opts *o, const struct due *d,
                      int64_t slot_ms, int64_t now_ms, const char *reason, const char *note,
                      bool *inserted, struct px_error *err)
{
    char id[PX_ID_MAX];
    px_id_new(PX_ID_RUN, id);
    struct json_object *error = NULL;
    if (reason) {
        error = json_object_new_object();
        px_json_set_str(error, "code", "skipped");
        px_json_set_str(error, "message", reason);
        px_json_set(error, "node_id", NULL);
        px_json_set_bool(error, "retryable", false);
        px_json_set_str(error, "hint",
                        strstr(reason, "still running")
                            ? "set the schedule's overlap to 'queue' to queue such slots instead"
                            : "set the schedule's misfire to 'run_latest' to run the latest "
                              "missed slot after downtime");
    }
    int64_t changes = 0;
    int rc = px_store_exec(
        st,
        "INSERT INTO runs (org_id, id, pipeline_id, revision, trigger, schedule_id, slot, status,"
        " queued_at, finished_at, attempt, error, note, runner)"
        " SELECT org_id, ?, id, revision, 'schedule', ?, ?, ?, ?, ?, 1, ?, ?, ? FROM pipelines"
        " WHERE org_id = ? AND id = ? AND deleted_at IS NULL"
        " ON CONFLICT (org_id, schedule_id, slot) DO NOTHING",
        PX_PARAMS(PX_V_TEXT(id), PX_V_TEXT(d->id), PX_V_INT(slot_ms),
                  PX_V_TEXT(reason ? "skipped" : "queued"), PX_V_INT(now_ms),
                  reason ? PX_V_INT(now_ms) : PX_V_NULL,
                  PX_V_TEXT(error ? px_json_str(error) : NULL), PX_V_TEXT(note),
                  PX_V_TEXT(reason ? NULL : o->holder), PX_V_TEXT(d->org), PX_V_TEXT(d->pipeline)),
        11, &changes, err);
    json_object_put(error);
    *inserted = changes > 0;
    return rc;
}

static void plural(char *out, size_t size, int64_t n, const char *one, const char *many)
{
    snprintf(out, size, "%" PRId64 " %s", n, n == 1 ? one : many);
}

/* Handles one due schedule inside the tick's transaction. */
static int fire_one(struct px_store *st, const struct px_sched_opts *o, struct due *d,
                    int64_t now_ms, struct px_sched_tick *t, struct px_error *err)
{
    int64_t old = d->next_ms, next = -1;
    struct px_error perr;
    struct px_cron cron;
    const struct px_tz *tz = NULL;
    int rc = load_schedule(d->expr, d->zone, &cron, &tz, &perr);
    if (rc >= 0 && old < 0) {
        /* Enabled before the scheduler computed its slot (or by a migration): start from now. */
        rc = slot_after(&cron, tz, now_ms, &next);
    } else if (rc >= 0) {
        /* Walk to the latest due slot; everything before it was missed. */
        int64_t latest = old, missed = 0, n;
        while ((rc = slot_after(&cron, tz, latest, &n)) == 1 && n <= now_ms && missed < WALK_MAX) {
            latest = n;
            missed++;
        }
        if (rc == 1 && n <= now_ms) /* still behind after WALK_MAX slots: restart from now */
            rc = slot_after(&cron, tz, now_ms, &n);
        next = rc == 1 ? n : -1;
        if (rc >= 0 && !d->paused) {
            int64_t grace = o->grace_ms > 0 ? o->grace_ms : PX_SCHED_GRACE_MS_DEFAULT;
            int64_t late_ms = now_ms - latest;
            bool misfired = late_ms > grace || missed > 0;
            char note[200] = "", busy[40], reason[200], tmp[64];
            if (misfired) {
                int len = snprintf(note, sizeof(note), "late by %" PRId64 " s", late_ms / 1000);
                if (missed > 0) {
                    plural(tmp, sizeof(tmp), missed, "earlier missed slot", "earlier missed slots");
                    snprintf(note + len, sizeof(note) - (size_t)len, "; %s not run", tmp);
                }
                t->missed += (int)missed;
            }
            const char *why = NULL;
            if (misfired && late_ms > grace && strcmp(d->misfire, "skip") == 0) {
                snprintf(reason, sizeof(reason),
                         "the slot was missed while no scheduler was running (misfire: skip)");
                why = reason;
            } else if ((rc = busy_run(st, d, busy, err)) < 0) {
                return rc;
            } else if (busy[0] && strcmp(d->overlap, "queue") != 0) {
                snprintf(reason, sizeof(reason),
                         "the previous run %s of this pipeline was still running (overlap: skip)",
                         busy);
                why = reason;
            }
            bool inserted;
            if ((rc = insert_run(st, o, d, latest, now_ms, why, note[0] ? note : NULL, &inserted,
                                 err)) < 0)
                return rc;
            if (inserted && why)
                t->skipped++;
            else if (inserted)
                t->fired++;
        }
    }
    if (rc < 0) {
        /* The expression or zone no longer loads: stop scheduling it rather than spin. */
        px_warn("schedule %s: %s; it stays enabled but has no next run", d->id, perr.message);
        next = -1;
    }
    d->next_ms = next;
    return px_store_exec(
        st,
        "UPDATE schedules SET next_fire_at = ? WHERE org_id = ? AND id = ? AND enabled = 1"
        " AND (next_fire_at IS NULL OR next_fire_at = ?)",
        PX_PARAMS(next >= 0 ? PX_V_INT(next) : PX_V_NULL, PX_V_TEXT(d->org), PX_V_TEXT(d->id),
                  old >= 0 ? PX_V_INT(old) : PX_V_NULL),
        4, NULL, err);
}

int px_sched_tick(struct px_store *st, const struct px_sched_opts *o, int64_t now_ms,
                  struct px_sched_tick *out, struct px_error *err)
{
    memset(out, 0, sizeof(*out));
    out->next_due_ms = INT64_MAX;
    int rc = 0;
    /* Schedules without a computed slot first (once per tick: one whose expression has no
     * future slot stays unset), then the due ones until fewer than a batch were due. */
    for (int pass = 0;; pass = 1) {
        struct due *d;
        int n;
        if ((rc = load_due(st, now_ms, pass == 0, &d, &n, err)))
            return rc;
        if (n > 0 && !(rc = px_store_begin(st, err))) {
            for (int i = 0; !rc && i < n; i++)
                rc = fire_one(st, o, &d[i], now_ms, out, err);
            rc = px_store_finish(st, rc, err);
        }
        due_free(d, n);
        if (rc)
            return rc;
        if (pass == 1 && n < TICK_BATCH)
            break;
    }
    int64_t next = -1;
    rc = px_store_query_int(st,
                            "SELECT coalesce(min(next_fire_at), -1) FROM schedules"
                            " WHERE enabled = 1",
                            NULL, 0, &next, err);
    if (rc == 1 && next >= 0)
        out->next_due_ms = next;
    return rc < 0 ? rc : 0;
}

/* ---- lease ------------------------------------------------------------------------------- */

int px_sched_lease(struct px_store *st, const char *holder, int64_t now_ms, int64_t ttl_ms,
                   bool *held, struct px_error *err)
{
    int64_t changes = 0;
    *held = false;
    int rc = px_store_exec(
        st,
        "INSERT INTO scheduler_lease (id, holder, expires_at) VALUES (1, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET holder = excluded.holder,"
        " expires_at = excluded.expires_at"
        " WHERE scheduler_lease.holder = excluded.holder OR scheduler_lease.expires_at < ?",
        PX_PARAMS(PX_V_TEXT(holder), PX_V_INT(now_ms + ttl_ms), PX_V_INT(now_ms)), 3, &changes,
        err);
    if (rc)
        return rc;
    *held = changes > 0;
    return 0;
}

void px_sched_lease_release(struct px_store *st, const char *holder)
{
    struct px_error err;
    if (px_store_exec(st, "UPDATE scheduler_lease SET expires_at = 0 WHERE holder = ?",
                      PX_PARAMS(PX_V_TEXT(holder)), 1, NULL, &err))
        px_warn("scheduler: releasing the lease failed: %s", err.message);
}

/* ---- the thread ----------------------------------------------------------------------------- */

#define LEASE_MS_DEFAULT 9000

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static unsigned long wake_seq;

struct px_scheduler {
    struct px_store *st;
    char *holder;
    void (*fired)(void);
    int64_t lease_ms;
    atomic_bool stop;
    pthread_t thread;
};

void px_scheduler_wake(void)
{
    pthread_mutex_lock(&wake_lock);
    wake_seq++;
    pthread_cond_broadcast(&wake_cond);
    pthread_mutex_unlock(&wake_lock);
}

static void *scheduler_main(void *arg)
{
    struct px_scheduler *s = arg;
    struct px_sched_opts o = {.holder = s->holder};
    bool had = false;
    while (!atomic_load(&s->stop)) {
        pthread_mutex_lock(&wake_lock);
        unsigned long seen = wake_seq;
        pthread_mutex_unlock(&wake_lock);
        int64_t now = px_now_ms(), wait_until = now + s->lease_ms / 3;
        struct px_error err;
        bool held = false;
        if (px_sched_lease(s->st, s->holder, now, s->lease_ms, &held, &err))
            px_warn("scheduler: lease: %s", err.message);
        if (held != had)
            px_info("scheduler: %s the scheduling lease", held ? "holding" : "lost");
        had = held;
        if (held) {
            struct px_sched_tick t;
            if (px_sched_tick(s->st, &o, now, &t, &err))
                px_warn("scheduler: %s", err.message);
            if (t.fired && s->fired)
                s->fired();
            if (t.next_due_ms < wait_until)
                wait_until = t.next_due_ms;
        }
        /* Sleep until the next slot (or the lease renewal), on the wall clock that slots are
         * defined on, unless a schedule changes first. */
        int64_t delay = wait_until - px_now_ms();
        if (delay <= 0)
            continue;
        struct timespec until = px_deadline_in_ms(delay);
        pthread_mutex_lock(&wake_lock);
        while (wake_seq == seen && !atomic_load(&s->stop))
            if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until) == ETIMEDOUT)
                break;
        pthread_mutex_unlock(&wake_lock);
    }
    if (had)
        px_sched_lease_release(s->st, s->holder);
    return NULL;
}

int px_scheduler_start(const char *store_url, const char *holder, void (*fired)(void),
                       struct px_scheduler **out, struct px_error *err)
{
    *out = NULL;
    struct px_scheduler *s = px_xcalloc(1, sizeof(*s));
    int rc = px_store_open(store_url, &s->st, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->holder = px_xstrdup(holder);
    s->fired = fired;
    s->lease_ms = LEASE_MS_DEFAULT;
    const char *env = getenv("PLANASONIX_SCHED_LEASE_MS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v >= 300 && v <= 600000)
            s->lease_ms = v;
    }
    atomic_init(&s->stop, false);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        px_store_close(s->st);
        free(s->holder);
        free(s);
        return px_error_set(err, PX_EINTERNAL, "cannot start the scheduler thread");
    }
    *out = s;
    return 0;
}

void px_scheduler_stop(struct px_scheduler *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    px_scheduler_wake();
    pthread_join(s->thread, NULL);
    px_store_close(s->st);
    free(s->holder);
    free(s);
}
