/* The scheduler (src/service/schedule_loop.c) with an injected clock: a day of every-minute slots
 * fires exactly 1,440 runs; a restart loses and doubles none; two schedulers on one store fire
 * each slot once; the lease passes to another process when its holder stops renewing;
 * pause/disable/delete stop firing; downtime runs the latest missed slot once (or none); an
 * overlapping slot is skipped or queued; whole DST days in New York move, merge and repeat
 * fires as DESIGN §3.8 says. Time moves by jumping to each due instant: no sleeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "service/schedule_loop.h"
#include "service/pipelines.h"
#include "service/runs.h"
#include "service/schedules.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DAY_MS (86400 * 1000LL)
/* 2026-06-01T00:00:00Z, a Monday with no DST change near it in UTC. */
#define T0 1780272000000LL

struct fixture {
    char dir[64], db[128];
    struct px_store *st;
    struct px_tenant t;
    char pipeline[PX_ID_MAX];
};

static void exec_sql(struct px_store *st, const char *sql, const struct px_val *p, size_t n)
{
    struct px_error err;
    if (px_store_exec(st, sql, p, n, NULL, &err))
        fail_msg("%s: %s", sql, err.message);
}

static int64_t count(struct px_store *st, const char *sql, const struct px_val *p, size_t n)
{
    struct px_error err;
    int64_t v = -1;
    if (px_store_query_int(st, sql, p, n, &v, &err) < 0)
        fail_msg("%s: %s", sql, err.message);
    return v;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct px_error err;
    /* The store fsyncs every tick's transaction: a memory file system keeps the day quick. */
    snprintf(f->dir, sizeof(f->dir), "%s/px-sched-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
    assert_int_equal(px_store_open(f->db, &f->st, &err), 0);
    exec_sql(f->st,
             "INSERT INTO orgs (id, name, plan, created_at, updated_at) VALUES"
             " ('org_a', 'A', 'premium', 1, 1)",
             NULL, 0);
    f->t = (struct px_tenant){.store = f->st, .org_id = "org_a"};
    px_id_new(PX_ID_PIPELINE, f->pipeline);
    exec_sql(f->st,
             "INSERT INTO pipelines (org_id, id, name, description, status, revision, created_at,"
             " updated_at) VALUES ('org_a', ?, 'p', 'd', 'active', 1, 1, 1)",
             PX_PARAMS(PX_V_TEXT(f->pipeline)), 1);
    exec_sql(f->st,
             "INSERT INTO pipeline_revisions (org_id, pipeline_id, revision, graph, node_count,"
             " description, created_at) VALUES ('org_a', ?, 1, '{}', 0, 'r', 1)",
             PX_PARAMS(PX_V_TEXT(f->pipeline)), 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    px_clock_set(-1);
    px_store_close(f->st);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Creates a schedule at clock time now; returns its id in id. */
static void schedule(struct fixture *f, int64_t now, const char *expr, const char *zone,
                     const char *misfire, const char *overlap, char id[PX_ID_MAX])
{
    px_clock_set(now);
    struct px_schedule_fields sf = {
        .cron_expression = expr,
        .frequency = "custom",
        .timezone = zone,
        .misfire = misfire,
        .overlap = overlap,
    };
    struct json_object *o;
    struct px_error err;
    if (px_schedule_create(&f->t, f->pipeline, &sf, &o, &err))
        fail_msg("create_schedule %s: %s", expr, err.message);
    snprintf(id, PX_ID_MAX, "%s", px_json_get_str(o, "schedule_id"));
    json_object_put(o);
}

/* The workers' part: every queued run of the store finishes at once. */
static void finish_runs(struct px_store *st)
{
    exec_sql(
        st, "UPDATE runs SET status = 'succeeded', finished_at = queued_at WHERE status = 'queued'",
        NULL, 0);
}

static int64_t tick(struct px_store *st, const char *holder, int64_t now, struct px_sched_tick *t)
{
    struct px_sched_opts o = {.holder = holder};
    struct px_error err;
    struct px_sched_tick local;
    if (!t)
        t = &local;
    if (px_sched_tick(st, &o, now, t, &err))
        fail_msg("tick at %lld: %s", (long long)now, err.message);
    return t->next_due_ms;
}

/* Ticks at every due instant (plus 7 ms of lateness) from `from` until `until`, finishing the
 * runs after each tick; with two stores, both tick at each instant. */
static void drive(struct px_store *a, struct px_store *b, int64_t from, int64_t until)
{
    int64_t now = from;
    while (now < until) {
        int64_t next = tick(a, "proc-a", now, NULL);
        if (b) {
            int64_t nb = tick(b, "proc-b", now, NULL);
            if (nb < next)
                next = nb;
        }
        finish_runs(a);
        if (next == INT64_MAX)
            break;
        now = next + 7 > now ? next + 7 : now + 1;
    }
}

static int64_t runs_of(struct fixture *f, const char *status)
{
    return count(
        f->st, "SELECT count(*) FROM runs WHERE trigger = 'schedule' AND (? IS NULL OR status = ?)",
        PX_PARAMS(PX_V_TEXT(status), PX_V_TEXT(status)), 2);
}

static void test_day_of_minutes(void **state)
{
    struct fixture *f = *state;
    char id[PX_ID_MAX];
    schedule(f, T0, "* * * * *", "UTC", NULL, NULL, id);
    drive(f->st, NULL, T0, T0 + DAY_MS);
    /* Slots T0+1min .. T0+24h: the last one (exactly T0 + DAY_MS) is not due before the end. */
    assert_int_equal(runs_of(f, NULL), 1439);
    drive(f->st, NULL, T0 + DAY_MS, T0 + DAY_MS + 10);
    assert_int_equal(runs_of(f, NULL), 1440);
    assert_int_equal(runs_of(f, "succeeded"), 1440);
    assert_int_equal(count(f->st, "SELECT count(DISTINCT slot) FROM runs", NULL, 0), 1440);
    assert_int_equal(count(f->st, "SELECT min(slot) FROM runs", NULL, 0), T0 + 60000);
    assert_int_equal(count(f->st, "SELECT max(slot) FROM runs", NULL, 0), T0 + DAY_MS);
    /* On time: no run carries a lateness note. */
    assert_int_equal(count(f->st, "SELECT count(*) FROM runs WHERE note IS NOT NULL", NULL, 0), 0);
}

static void test_restart_and_two_schedulers(void **state)
{
    struct fixture *f = *state;
    char id[PX_ID_MAX];
    struct px_error err;
    schedule(f, T0, "* * * * *", "UTC", NULL, NULL, id);
    /* Two scheduler processes on the same store, both ticking at every instant (no lease: the
     * unique (schedule, slot) index alone keeps them apart). */
    struct px_store *b;
    assert_int_equal(px_store_open(f->db, &b, &err), 0);
    drive(f->st, b, T0, T0 + DAY_MS / 2);
    px_store_close(b);
    /* "Restart": a fresh handle continues from the stored next slot. */
    struct px_store *c;
    assert_int_equal(px_store_open(f->db, &c, &err), 0);
    drive(c, NULL, T0 + DAY_MS / 2, T0 + DAY_MS + 10);
    px_store_close(c);
    assert_int_equal(runs_of(f, NULL), 1440);
    assert_int_equal(count(f->st, "SELECT count(DISTINCT slot) FROM runs", NULL, 0), 1440);
    assert_int_equal(runs_of(f, "skipped"), 0);
}

static void test_lease(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct px_store *b;
    assert_int_equal(px_store_open(f->db, &b, &err), 0);
    bool held;
    assert_int_equal(px_sched_lease(f->st, "proc-a", T0, 9000, &held, &err), 0);
    assert_true(held);
    assert_int_equal(px_sched_lease(b, "proc-b", T0 + 1000, 9000, &held, &err), 0);
    assert_false(held);
    assert_int_equal(px_sched_lease(f->st, "proc-a", T0 + 3000, 9000, &held, &err), 0);
    assert_true(held); /* renewed until T0 + 12 s */
    assert_int_equal(px_sched_lease(b, "proc-b", T0 + 11000, 9000, &held, &err), 0);
    assert_false(held);
    /* proc-a dies (stops renewing): proc-b takes over once the lease has expired. */
    assert_int_equal(px_sched_lease(b, "proc-b", T0 + 12001, 9000, &held, &err), 0);
    assert_true(held);
    assert_int_equal(px_sched_lease(f->st, "proc-a", T0 + 13000, 9000, &held, &err), 0);
    assert_false(held);
    /* A clean shutdown hands over at once. */
    px_sched_lease_release(b, "proc-b");
    assert_int_equal(px_sched_lease(f->st, "proc-a", T0 + 13001, 9000, &held, &err), 0);
    assert_true(held);
    px_store_close(b);
}

static void test_pause_disable_delete(void **state)
{
    struct fixture *f = *state;
    char id[PX_ID_MAX];
    schedule(f, T0, "0 * * * *", "UTC", NULL, NULL, id);
    drive(f->st, NULL, T0, T0 + 3 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 3);
    /* Paused pipeline: slots pass without runs, and do not pile up for later. */
    exec_sql(f->st, "UPDATE pipelines SET status = 'paused' WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->pipeline)), 1);
    drive(f->st, NULL, T0 + 3 * 3600000 + 10, T0 + 6 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 3);
    exec_sql(f->st, "UPDATE pipelines SET status = 'active' WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->pipeline)), 1);
    drive(f->st, NULL, T0 + 6 * 3600000 + 10, T0 + 7 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 4);
    assert_int_equal(count(f->st, "SELECT count(*) FROM runs WHERE note IS NOT NULL", NULL, 0), 0);
    /* Disabled schedule. */
    struct json_object *o;
    struct px_error err;
    px_clock_set(T0 + 7 * 3600000 + 10);
    assert_int_equal(px_schedule_set_enabled(&f->t, id, 0, &o, &err), 0);
    json_object_put(o);
    drive(f->st, NULL, T0 + 7 * 3600000 + 10, T0 + 10 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 4);
    /* Enabled again: slots missed while disabled are not run. */
    px_clock_set(T0 + 10 * 3600000 + 10);
    assert_int_equal(px_schedule_set_enabled(&f->t, id, 1, &o, &err), 0);
    json_object_put(o);
    drive(f->st, NULL, T0 + 10 * 3600000 + 10, T0 + 11 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 5);
    /* Deleted pipeline. */
    assert_int_equal(px_pipeline_delete(&f->t, f->pipeline, &o, &err), 0);
    json_object_put(o);
    drive(f->st, NULL, T0 + 11 * 3600000 + 10, T0 + 14 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 5);
}

static void test_downtime(void **state)
{
    struct fixture *f = *state;
    char a[PX_ID_MAX], b[PX_ID_MAX];
    schedule(f, T0, "0 * * * *", "UTC", NULL, NULL, a);
    schedule(f, T0, "0 * * * *", "UTC", "skip", "queue", b);
    drive(f->st, NULL, T0, T0 + 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 2);
    /* Down from 01:00 to 05:30: slots 02:00..05:00 were missed. One tick at 05:30. */
    struct px_sched_tick t;
    tick(f->st, "proc-a", T0 + 5 * 3600000 + 1800000, &t);
    assert_int_equal(t.fired, 1);
    assert_int_equal(t.skipped, 1);
    assert_int_equal(t.missed, 6);
    struct px_rows *rows;
    struct px_error err;
    assert_int_equal(px_store_query(f->st,
                                    "SELECT schedule_id, status, slot, note, error FROM runs"
                                    " WHERE slot > ? ORDER BY schedule_id = ? DESC",
                                    PX_PARAMS(PX_V_INT(T0 + 3600000), PX_V_TEXT(a)), 2, &rows,
                                    &err),
                     0);
    /* run_latest: the 05:00 slot runs once, late by 30 min, saying what was not run. */
    assert_int_equal(px_rows_next(rows, &err), 1);
    assert_string_equal(px_rows_text(rows, 0), a);
    assert_string_equal(px_rows_text(rows, 1), "queued");
    assert_int_equal(px_rows_int(rows, 2), T0 + 5 * 3600000);
    assert_string_equal(px_rows_text(rows, 3), "late by 1800 s; 3 earlier missed slots not run");
    /* skip: the same slot is recorded as skipped, with the reason. */
    assert_int_equal(px_rows_next(rows, &err), 1);
    assert_string_equal(px_rows_text(rows, 0), b);
    assert_string_equal(px_rows_text(rows, 1), "skipped");
    assert_non_null(strstr(px_rows_text(rows, 4), "misfire: skip"));
    assert_int_equal(px_rows_next(rows, &err), 0);
    px_rows_free(rows);
    /* get_run_history's view says so. */
    assert_int_equal(px_store_query(f->st, "SELECT id FROM runs WHERE schedule_id = ? AND slot = ?",
                                    PX_PARAMS(PX_V_TEXT(a), PX_V_INT(T0 + 5 * 3600000)), 2, &rows,
                                    &err),
                     0);
    assert_int_equal(px_rows_next(rows, &err), 1);
    struct json_object *view;
    assert_int_equal(px_run_get(&f->t, px_rows_text(rows, 0), &view, &err), 0);
    px_rows_free(rows);
    assert_string_equal(px_json_get_str(view, "note"),
                        "late by 1800 s; 3 earlier missed slots not run");
    assert_string_equal(px_json_get_str(px_json_get(view, "trigger"), "type"), "schedule");
    json_object_put(view);
    /* Next slots are back to normal. */
    finish_runs(f->st);
    drive(f->st, NULL, T0 + 5 * 3600000 + 1800000, T0 + 6 * 3600000 + 10);
    assert_int_equal(runs_of(f, NULL), 6);
}

static void test_overlap(void **state)
{
    struct fixture *f = *state;
    char a[PX_ID_MAX];
    schedule(f, T0, "*/5 * * * *", "UTC", NULL, NULL, a);
    tick(f->st, "proc-a", T0 + 300000, NULL); /* 00:05 queued, and left running */
    struct px_sched_tick t;
    tick(f->st, "proc-a", T0 + 600000, &t); /* 00:10: the previous run is still going */
    assert_int_equal(t.fired, 0);
    assert_int_equal(t.skipped, 1);
    assert_int_equal(runs_of(f, "skipped"), 1);
    assert_int_equal(count(f->st,
                           "SELECT count(*) FROM runs WHERE status = 'skipped' AND error LIKE"
                           " '%still running (overlap: skip)%'",
                           NULL, 0),
                     1);
    /* overlap: queue queues behind it instead. */
    struct json_object *o;
    struct px_error err;
    struct px_schedule_fields sf = {.overlap = "queue"};
    px_clock_set(T0 + 600001);
    assert_int_equal(px_schedule_update(&f->t, a, &sf, &o, &err), 0);
    json_object_put(o);
    tick(f->st, "proc-a", T0 + 900000, &t);
    assert_int_equal(t.fired, 1);
    assert_int_equal(runs_of(f, "queued"), 2);
}

/* Local wall times (as HH:MM in the zone) of the scheduled runs between two instants. */
static void fired_local(struct fixture *f, const char *sched, char *out, size_t size)
{
    struct px_rows *rows;
    struct px_error err;
    assert_int_equal(px_store_query(f->st,
                                    "SELECT slot FROM runs WHERE schedule_id = ? ORDER BY slot",
                                    PX_PARAMS(PX_V_TEXT(sched)), 1, &rows, &err),
                     0);
    out[0] = '\0';
    size_t len = 0;
    while (px_rows_next(rows, &err) == 1) {
        char t[40];
        px_time_format(px_rows_int(rows, 0), t, sizeof(t));
        len += (size_t)snprintf(out + len, size - len, "%s%.16s", len ? " " : "", t);
    }
    px_rows_free(rows);
}

static void test_dst_new_york(void **state)
{
    struct fixture *f = *state;
    char fixed[PX_ID_MAX], merged[PX_ID_MAX], wild[PX_ID_MAX], repeat[PX_ID_MAX];
    /* 2026-03-07 12:00Z .. 2026-03-09 12:00Z: New York springs forward on 03-08 at 02:00 EST. */
    int64_t from = 1772884800000LL, until = from + 2 * DAY_MS;
    schedule(f, from, "30 2 * * *", "America/New_York", NULL, "queue", fixed);
    schedule(f, from, "0,15,45 2 * * *", "America/New_York", NULL, "queue", merged);
    schedule(f, from, "*/30 1-3 8 3 *", "America/New_York", NULL, "queue", wild);
    drive(f->st, NULL, from, until);
    char got[2048];
    fired_local(f, fixed, got, sizeof(got));
    /* 02:30 EST on 03-08 does not exist: fires once at 03:00 EDT = 07:00Z. */
    assert_string_equal(got, "2026-03-08T07:00 2026-03-09T06:30");
    fired_local(f, merged, got, sizeof(got));
    /* 02:00, 02:15 and 02:45 are all in the gap: one fire at 03:00 EDT. */
    assert_string_equal(got, "2026-03-08T07:00 2026-03-09T06:00 2026-03-09T06:15 2026-03-09T06:45");
    fired_local(f, wild, got, sizeof(got));
    /* Wall-clock job: 01:00, 01:30 EST, then 03:00, 03:30 EDT; nothing inside the gap. */
    assert_string_equal(got, "2026-03-08T06:00 2026-03-08T06:30 2026-03-08T07:00 2026-03-08T07:30");

    /* Fall back on 2026-11-01 at 02:00 EDT → 01:00 EST: 01:30 happens twice. */
    from = 1793448000000LL; /* 2026-10-31T12:00:00Z */
    until = from + 2 * DAY_MS;
    schedule(f, from, "30 1 * * *", "America/New_York", NULL, "queue", repeat);
    char half[PX_ID_MAX];
    schedule(f, from, "*/30 1 1 11 *", "America/New_York", NULL, "queue", half);
    drive(f->st, NULL, from, until);
    fired_local(f, repeat, got, sizeof(got));
    /* Fixed time: once, on the first pass (01:30 EDT = 05:30Z), then 01:30 EST on 11-02. */
    assert_string_equal(got, "2026-11-01T05:30 2026-11-02T06:30");
    fired_local(f, half, got, sizeof(got));
    /* Wall-clock: both passes of the repeated hour. */
    assert_string_equal(got, "2026-11-01T05:00 2026-11-01T05:30 2026-11-01T06:00 2026-11-01T06:30");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_day_of_minutes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_and_two_schedulers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_disable_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_downtime, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dst_new_york, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
