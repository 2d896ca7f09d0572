/* Runs service: trigger and idempotency, ownership, history paging and filters, recovery of
 * runs a dead process left behind, claiming, health math and SLA status, and the worker pool
 * executing a queued run to an end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/keyring.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "base/json.h"
#include "engine/engine.h"
#include "service/runs.h"
#include "store/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define T0 1700000000000LL /* a fixed "now" for the tests that set the clock */

struct fixture {
    char dir[64];
    char db[128];
    struct px_store *st;
    struct px_keyring kr;
    struct px_tenant t, other;
    char p1[PX_ID_MAX], p2[PX_ID_MAX], p3[PX_ID_MAX];
};

static void exec_sql(struct px_store *st, const char *sql, const struct px_val *p, size_t n)
{
    struct px_error err;
    int rc = px_store_exec(st, sql, p, n, NULL, &err);
    if (rc)
        fail_msg("%s: %s", sql, err.message);
}

static void add_pipeline(struct fixture *f, const char *org, const char *name, char *id)
{
    px_id_new(PX_ID_PIPELINE, id);
    exec_sql(f->st,
             "INSERT INTO pipelines (org_id, id, name, description, status, revision, created_at,"
             " updated_at) VALUES (?, ?, ?, 'd', 'active', 2, 1, 1)",
             PX_PARAMS(PX_V_TEXT(org), PX_V_TEXT(id), PX_V_TEXT(name)), 3);
    for (int rev = 1; rev <= 2; rev++)
        exec_sql(f->st,
                 "INSERT INTO pipeline_revisions (org_id, pipeline_id, revision, graph, node_count,"
                 " description, created_at) VALUES (?, ?, ?, '{\"nodes\":[],\"edges\":[]}', 0,"
                 " 'r', 1)",
                 PX_PARAMS(PX_V_TEXT(org), PX_V_TEXT(id), PX_V_INT(rev)), 3);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct px_error err;
    snprintf(f->dir, sizeof(f->dir), "/tmp/px-runs-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->db, sizeof(f->db), "%s/t.db", f->dir);
    assert_int_equal(px_store_open(f->db, &f->st, &err), 0);
    assert_int_equal(px_keyring_load(f->dir, &f->kr, &err), 0);
    exec_sql(f->st,
             "INSERT INTO orgs (id, name, plan, created_at, updated_at) VALUES"
             " ('org_a', 'A', 'premium', 1, 1), ('org_b', 'B', 'premium', 1, 1)",
             NULL, 0);
    f->t = (struct px_tenant){.store = f->st, .keyring = &f->kr, .org_id = "org_a"};
    f->other = (struct px_tenant){.store = f->st, .keyring = &f->kr, .org_id = "org_b"};
    add_pipeline(f, "org_a", "one", f->p1);
    add_pipeline(f, "org_a", "two", f->p2);
    add_pipeline(f, "org_b", "three", f->p3);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    px_clock_set(-1);
    px_store_close(f->st);
    px_keyring_wipe(&f->kr);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const char *run_str(struct json_object *o, const char *key)
{
    return px_json_get_str(px_json_get(o, "run"), key);
}

static void test_trigger_and_idempotency(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct json_object *a, *b, *c, *d;
    assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &a, &err), 0);
    struct json_object *run = px_json_get(a, "run");
    assert_string_equal(px_json_get_str(run, "status"), "queued");
    assert_int_equal(px_json_get_int(run, "revision", 0), 2);
    assert_int_equal(px_json_get_int(run, "attempt", 0), 1);
    assert_string_equal(px_json_get_str(px_json_get(run, "trigger"), "type"), "manual");
    assert_null(px_json_get(run, "started_at"));
    assert_false(px_json_get_bool(a, "replayed", true));
    assert_true(px_id_valid(PX_ID_RUN, run_str(a, "run_id")));

    struct json_object *params = json_tokener_parse("{\"day\":\"2024-01-01\"}");
    assert_int_equal(px_run_trigger(&f->t, f->p1, params, "k1", "api", &b, &err), 0);
    assert_int_equal(px_run_trigger(&f->t, f->p1, params, "k1", "api", &c, &err), 0);
    assert_string_equal(run_str(b, "run_id"), run_str(c, "run_id"));
    assert_true(px_json_get_bool(c, "replayed", false));
    assert_string_not_equal(run_str(a, "run_id"), run_str(b, "run_id"));
    /* The same key on another pipeline is another run. */
    assert_int_equal(px_run_trigger(&f->t, f->p2, params, "k1", "api", &d, &err), 0);
    assert_string_not_equal(run_str(b, "run_id"), run_str(d, "run_id"));
    assert_false(px_json_get_bool(d, "replayed", true));
    json_object_put(params);

    /* Another org's pipeline, or a run id from another org: not found. */
    struct json_object *x = NULL;
    assert_int_equal(px_run_trigger(&f->other, f->p1, NULL, NULL, "manual", &x, &err),
                     -PX_ENOTFOUND);
    assert_int_equal(px_run_get(&f->other, run_str(a, "run_id"), &x, &err), -PX_ENOTFOUND);
    /* Paused pipelines can still be triggered by hand. */
    exec_sql(f->st, "UPDATE pipelines SET status = 'paused' WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->p2)), 1);
    assert_int_equal(px_run_trigger(&f->t, f->p2, NULL, NULL, "manual", &x, &err), 0);
    json_object_put(x);
    /* Deleted pipelines cannot. */
    exec_sql(f->st, "UPDATE pipelines SET deleted_at = 5 WHERE id = ?", PX_PARAMS(PX_V_TEXT(f->p2)),
             1);
    assert_int_equal(px_run_trigger(&f->t, f->p2, NULL, NULL, "manual", &x, &err), -PX_ENOTFOUND);
    json_object_put(a);
    json_object_put(b);
    json_object_put(c);
    json_object_put(d);
}

static void test_history_paging(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    px_clock_set(T0);
    for (int i = 0; i < 23; i++) {
        struct json_object *o;
        assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &o, &err), 0);
        json_object_put(o);
        if (i % 2 == 0)
            px_clock_advance(1000); /* some runs share a queued_at: the id breaks the tie */
    }
    exec_sql(f->st, "UPDATE runs SET status = 'failed' WHERE rowid % 5 = 0", NULL, 0);
    int64_t failed = 0;
    assert_int_equal(px_store_query_int(f->st, "SELECT count(*) FROM runs WHERE status = 'failed'",
                                        NULL, 0, &failed, &err),
                     1);

    int seen = 0, pages = 0;
    char cursor[256] = "";
    do {
        struct json_object *page;
        assert_int_equal(px_run_list(&f->t, f->p1, NULL, 0, cursor[0] ? cursor : NULL, &page, &err),
                         0);
        struct json_object *runs = px_json_get(page, "runs");
        size_t n = json_object_array_length(runs);
        assert_true(n <= 10);
        for (size_t i = 0; i < n; i++) {
            struct json_object *r = json_object_array_get_idx(runs, i);
            assert_string_equal(px_json_get_str(r, "pipeline_id"), f->p1);
        }
        seen += (int)n;
        pages++;
        const char *next = px_json_get_str(page, "next_cursor");
        snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
        json_object_put(page);
    } while (cursor[0]);
    assert_int_equal(seen, 23);
    assert_int_equal(pages, 3);

    struct json_object *page;
    assert_int_equal(px_run_list(&f->t, f->p1, "failed", 100, NULL, &page, &err), 0);
    assert_int_equal(json_object_array_length(px_json_get(page, "runs")), failed);
    assert_null(px_json_get(page, "next_cursor"));
    json_object_put(page);
    assert_int_equal(px_run_list(&f->t, f->p1, NULL, 0, "garbage!", &page, &err), -PX_EINVALID);
    assert_int_equal(px_run_list(&f->other, f->p1, NULL, 0, NULL, &page, &err), -PX_ENOTFOUND);
    assert_int_equal(px_run_list(&f->t, f->p2, NULL, 0, NULL, &page, &err), 0);
    assert_int_equal(json_object_array_length(px_json_get(page, "runs")), 0);
    json_object_put(page);

    struct json_object *latest = px_run_latest(&f->t, f->p1);
    assert_non_null(latest);
    json_object_put(latest);
    assert_null(px_run_latest(&f->t, f->p2));
}

static void insert_run(struct fixture *f, const char *id, const char *status, int64_t queued,
                       const char *runner, int64_t lease_until)
{
    exec_sql(f->st,
             "INSERT INTO runs (org_id, id, pipeline_id, revision, trigger, status, queued_at,"
             " started_at, runner, lease_until) VALUES ('org_a', ?, ?, 1, 'manual', ?, ?,"
             " CASE WHEN ? = 'running' THEN ? END, ?, ?)",
             PX_PARAMS(PX_V_TEXT(id), PX_V_TEXT(f->p1), PX_V_TEXT(status), PX_V_INT(queued),
                       PX_V_TEXT(status), PX_V_INT(queued + 1), PX_V_TEXT(runner),
                       lease_until ? PX_V_INT(lease_until) : PX_V_NULL),
             8);
}

static const char *status_of(struct fixture *f, const char *run_id)
{
    static char status[32];
    struct px_error err;
    struct json_object *o;
    assert_int_equal(px_run_get(&f->t, run_id, &o, &err), 0);
    snprintf(status, sizeof(status), "%s", px_json_get_str(o, "status"));
    json_object_put(o);
    return status;
}

static void test_recover_and_claim(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct json_object *mine, *o;
    px_clock_set(T0);
    setenv("PLANASONIX_RUN_LEASE_MS", "1000", 1);
    assert_int_equal(px_run_lease_ms(), 1000);
    assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &mine, &err), 0);
    px_clock_advance(10);
    /* Another process's runs: one whose lease ran out, one whose lease is live (that process
     * renews it), one from before leases (no lease: expired), and queued runs that process
     * left (queued runs belong to no one). */
    char expired[PX_ID_MAX], live[PX_ID_MAX], legacy[PX_ID_MAX], queued[PX_ID_MAX];
    px_id_new(PX_ID_RUN, expired);
    px_id_new(PX_ID_RUN, live);
    px_id_new(PX_ID_RUN, legacy);
    px_id_new(PX_ID_RUN, queued);
    insert_run(f, expired, "running", T0 + 1, "4242:00aa", T0 - 1);
    insert_run(f, live, "running", T0 + 2, "4242:00aa", T0 + 500);
    insert_run(f, legacy, "running", T0 + 3, "1:123456789", 0);
    insert_run(f, queued, "queued", T0 + 4, "4242:00aa", 0);
    int n = -1;
    assert_int_equal(px_runs_recover(f->st, false, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(px_run_get(&f->t, expired, &o, &err), 0);
    assert_string_equal(px_json_get_str(o, "status"), "failed");
    struct json_object *e = px_json_get(o, "error");
    assert_string_equal(px_json_get_str(e, "code"), "interrupted");
    assert_non_null(strstr(px_json_get_str(e, "message"), "server stopped"));
    assert_true(px_json_get_bool(e, "retryable", false));
    assert_non_null(px_json_get(o, "finished_at"));
    json_object_put(o);
    assert_string_equal(status_of(f, legacy), "failed");
    /* A live owner's run and every queued run are left alone... */
    assert_string_equal(status_of(f, live), "running");
    assert_string_equal(status_of(f, queued), "queued");
    assert_string_equal(status_of(f, run_str(mine, "run_id")), "queued");
    /* ...until the live one's lease runs out too. */
    px_clock_advance(600);
    assert_int_equal(px_runs_recover(f->st, false, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(status_of(f, live), "failed");

    /* Queued runs are claimed oldest first, once each, with a lease. */
    char org[40], run[40];
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(org, "org_a");
    assert_string_equal(run, run_str(mine, "run_id"));
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, queued);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 0);
    assert_string_equal(status_of(f, run), "running");
    int64_t lease = 0;
    assert_int_equal(px_store_query_int(f->st, "SELECT lease_until FROM runs WHERE id = ?",
                                        PX_PARAMS(PX_V_TEXT(run)), 1, &lease, &err),
                     1);
    assert_int_equal(lease, px_now_ms() + 1000);
    /* This process's own running runs survive recovery even past their lease (this process
     * executes them; its heartbeat renews them)... */
    px_clock_advance(5000);
    assert_int_equal(px_runs_recover(f->st, false, &n, &err), 0);
    assert_int_equal(n, 0);
    /* ...and end as interrupted when it stops (include_self). */
    assert_int_equal(px_runs_recover(f->st, true, &n, &err), 0);
    assert_int_equal(n, 2);
    json_object_put(mine);
    unsetenv("PLANASONIX_RUN_LEASE_MS");
}

/* Fair claiming (issue 10 item 9): organizations take turns, and one organization never has
 * more than PLANASONIX_ORG_MAX_RUNNING runs running, whatever its queue holds. */
static void test_fair_claim(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct json_object *o;
    setenv("PLANASONIX_ORG_MAX_RUNNING", "2", 1);
    char a[4][PX_ID_MAX], b[2][PX_ID_MAX];
    px_clock_set(T0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &o, &err), 0);
        snprintf(a[i], PX_ID_MAX, "%s", run_str(o, "run_id"));
        json_object_put(o);
        px_clock_advance(1);
    }
    assert_int_equal(px_run_trigger(&f->other, f->p3, NULL, NULL, "manual", &o, &err), 0);
    snprintf(b[0], PX_ID_MAX, "%s", run_str(o, "run_id"));
    json_object_put(o);
    char org[40], run[40];
    /* A's oldest first (no one had a turn), then B although A queued earlier... */
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, a[0]);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(org, "org_b");
    assert_string_equal(run, b[0]);
    /* ...then A again, up to its limit of 2 running runs: then nothing, with two queued. */
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, a[1]);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 0);
    assert_string_equal(status_of(f, a[2]), "queued");
    /* One of A's runs ends: the next of A's runs may start. */
    exec_sql(f->st, "UPDATE runs SET status = 'succeeded', finished_at = 1 WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(a[0])), 1);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, a[2]);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 0);
    /* B queues again while A still has a queued run: B's turn comes first (A had the latest). */
    exec_sql(f->st, "UPDATE runs SET status = 'succeeded', finished_at = 1 WHERE id IN (?, ?)",
             PX_PARAMS(PX_V_TEXT(a[1]), PX_V_TEXT(b[0])), 2);
    assert_int_equal(px_run_trigger(&f->other, f->p3, NULL, NULL, "manual", &o, &err), 0);
    snprintf(b[1], PX_ID_MAX, "%s", run_str(o, "run_id"));
    json_object_put(o);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, b[1]);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, a[3]);
    assert_int_equal(px_run_claim(f->st, org, run, &err), 0);
    unsetenv("PLANASONIX_ORG_MAX_RUNNING");
}

static void add_finished(struct fixture *f, const char *status, int64_t queued, int64_t dur,
                         int64_t rows)
{
    char id[PX_ID_MAX];
    px_id_new(PX_ID_RUN, id);
    exec_sql(f->st,
             "INSERT INTO runs (org_id, id, pipeline_id, revision, trigger, status, queued_at,"
             " started_at, finished_at, rows_read, rows_written) VALUES ('org_a', ?, ?, 1,"
             " 'schedule', ?, ?, ?, ?, ?, ?)",
             PX_PARAMS(PX_V_TEXT(id), PX_V_TEXT(f->p1), PX_V_TEXT(status), PX_V_INT(queued),
                       PX_V_INT(queued + 100), PX_V_INT(queued + 100 + dur), PX_V_INT(rows),
                       PX_V_INT(rows)),
             8);
}

static const char *sla_status(struct json_object *h)
{
    return px_json_get_str(px_json_get(h, "sla"), "status");
}

static void test_health(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct json_object *h;
    px_clock_set(T0);
    /* No runs at all. */
    assert_int_equal(px_run_health(&f->t, f->p1, NULL, &h, &err), 0);
    assert_string_equal(px_json_get_str(h, "window"), "7d");
    assert_int_equal(px_json_get_int(px_json_get(h, "runs"), "total", -1), 0);
    assert_null(px_json_get(h, "error_rate"));
    assert_null(px_json_get(h, "last_success_at"));
    assert_string_equal(sla_status(h), "unknown");
    assert_int_equal(json_object_array_length(px_json_get(px_json_get(h, "sla"), "reasons")), 1);
    json_object_put(h);

    const int64_t H = 3600000;
    /* 10 runs in the last day: durations 1..10 s; 2 failures; one more 3 days ago. */
    for (int i = 1; i <= 10; i++)
        add_finished(f, i == 4 || i == 7 ? "failed" : "succeeded", T0 - 20 * H + i * H, i * 1000,
                     100 * i);
    add_finished(f, "succeeded", T0 - 72 * H, 60000, 5);
    assert_int_equal(px_run_health(&f->t, f->p1, "24h", &h, &err), 0);
    struct json_object *runs = px_json_get(h, "runs");
    assert_int_equal(px_json_get_int(runs, "total", -1), 10);
    assert_int_equal(px_json_get_int(runs, "succeeded", -1), 8);
    assert_int_equal(px_json_get_int(runs, "failed", -1), 2);
    assert_int_equal(px_json_get_int(runs, "other", -1), 0);
    assert_true(json_object_get_double(px_json_get(h, "error_rate")) > 0.199 &&
                json_object_get_double(px_json_get(h, "error_rate")) < 0.201);
    assert_int_equal(px_json_get_int(px_json_get(h, "duration_ms"), "p50", -1), 5000);
    assert_int_equal(px_json_get_int(px_json_get(h, "duration_ms"), "p95", -1), 10000);
    assert_int_equal(px_json_get_int(h, "rows_processed", -1), 5500);
    /* The last success is run 10: queued at T0-10h, finished 10.1 s later. */
    assert_int_equal(px_json_get_int(h, "freshness_lag_seconds", -1),
                     (10 * H - 100 - 10000) / 1000);
    assert_non_null(px_json_get_str(h, "last_success_at"));
    assert_string_equal(sla_status(h), "unknown");
    json_object_put(h);
    assert_int_equal(px_run_health(&f->t, f->p1, "7d", &h, &err), 0);
    assert_int_equal(px_json_get_int(px_json_get(h, "runs"), "total", -1), 11);
    json_object_put(h);

    /* SLA 26 hours: met; 11 hours: at risk (over 80%); 9 hours: breached. */
    exec_sql(f->st, "UPDATE pipelines SET freshness_sla_minutes = 1560 WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->p1)), 1);
    assert_int_equal(px_run_health(&f->t, f->p1, NULL, &h, &err), 0);
    assert_string_equal(sla_status(h), "met");
    json_object_put(h);
    exec_sql(f->st, "UPDATE pipelines SET freshness_sla_minutes = 660 WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->p1)), 1);
    assert_int_equal(px_run_health(&f->t, f->p1, NULL, &h, &err), 0);
    assert_string_equal(sla_status(h), "at_risk");
    json_object_put(h);
    exec_sql(f->st, "UPDATE pipelines SET freshness_sla_minutes = 540 WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->p1)), 1);
    assert_int_equal(px_run_health(&f->t, f->p1, NULL, &h, &err), 0);
    assert_string_equal(sla_status(h), "breached");
    assert_non_null(strstr(json_object_get_string(json_object_array_get_idx(
                               px_json_get(px_json_get(h, "sla"), "reasons"), 0)),
                           "9 hours"));
    json_object_put(h);
    /* A failure as the latest run puts a met SLA at risk. */
    exec_sql(f->st, "UPDATE pipelines SET freshness_sla_minutes = 1560 WHERE id = ?",
             PX_PARAMS(PX_V_TEXT(f->p1)), 1);
    add_finished(f, "failed", T0 - H, 500, 0);
    assert_int_equal(px_run_health(&f->t, f->p1, NULL, &h, &err), 0);
    assert_string_equal(sla_status(h), "at_risk");
    json_object_put(h);

    assert_int_equal(px_run_health(&f->t, f->p1, "0d", &h, &err), -PX_EINVALID);
    assert_int_equal(px_run_health(&f->other, f->p1, NULL, &h, &err), -PX_ENOTFOUND);
}

/* The pool executes a queued run to an end. The graph here is empty, so whatever the engine
 * makes of it, the run must finish (succeeded or failed with a recorded error). */
static void test_workers(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct px_run_workers *w;
    assert_int_equal(px_run_workers_start(f->db, &f->kr, f->dir, 2, &w, &err), 0);
    struct json_object *o;
    assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &o, &err), 0);
    char id[PX_ID_MAX];
    snprintf(id, sizeof(id), "%s", run_str(o, "run_id"));
    json_object_put(o);
    bool done = false;
    for (int i = 0; i < 100 && !done; i++) {
        usleep(50000);
        assert_int_equal(px_run_get(&f->t, id, &o, &err), 0);
        done = px_run_finished(o);
        if (done) {
            const char *st = px_json_get_str(o, "status");
            assert_true(strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0);
            if (strcmp(st, "failed") == 0)
                assert_non_null(px_json_get_str(px_json_get(o, "error"), "message"));
            assert_non_null(px_json_get(o, "duration_ms"));
        }
        json_object_put(o);
    }
    assert_true(done);
    px_run_workers_stop(w);
}

/* ---- timeout and retries (the engine replaced through the test hook) --------------------- */

static int fake_calls;
static int fake_fail_first; /* calls that fail before one succeeds */
static bool fake_retryable;

static int fake_engine(struct json_object *graph, const struct px_engine_opts *opts,
                       struct px_engine_result *out, struct px_error *err)
{
    (void)graph;
    (void)opts;
    fake_calls++;
    out->rows_read = out->rows_written = 7;
    if (fake_calls > fake_fail_first)
        return 0;
    snprintf(out->failed_node, sizeof(out->failed_node), "src");
    int rc = px_error_set(err, PX_EIO, "sqlite: database is locked");
    err->retryable = fake_retryable;
    return rc;
}

/* Polls cancelled as the engine does between batches, for at most ~5 s. */
static int slow_engine(struct json_object *graph, const struct px_engine_opts *opts,
                       struct px_engine_result *out, struct px_error *err)
{
    (void)graph;
    (void)out;
    fake_calls++;
    for (int i = 0; i < 500; i++) {
        if (opts->cancelled(opts->cancel_ctx))
            return px_error_set(err, PX_EUNAVAILABLE, "cancelled");
        usleep(10000);
    }
    return 0;
}

/* Triggers, claims and executes one run of p1 with the hooked engine; returns the run view. */
static struct json_object *execute_one(struct fixture *f, px_run_engine_fn fn)
{
    struct px_error err;
    struct json_object *o;
    assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &o, &err), 0);
    char org[40], run[40];
    assert_int_equal(px_run_claim(f->st, org, run, &err), 1);
    assert_string_equal(run, run_str(o, "run_id"));
    json_object_put(o);
    fake_calls = 0;
    px_run_set_engine_hook(fn);
    int rc = px_run_execute(f->st, &f->kr, f->dir, org, run, NULL, NULL, &err);
    px_run_set_engine_hook(NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(px_run_get(&f->t, run, &o, &err), 0);
    return o;
}

/* Holds the engine until the test says so (polling cancelled as the real engine does). */
static atomic_bool takeover_go;
static atomic_int takeover_calls;
static int takeover_engine(struct json_object *graph, const struct px_engine_opts *opts,
                           struct px_engine_result *out, struct px_error *err)
{
    (void)graph;
    (void)err;
    atomic_fetch_add(&takeover_calls, 1);
    out->rows_written = 7;
    while (!atomic_load(&takeover_go)) {
        if (opts->cancelled(opts->cancel_ctx))
            return px_error_set(err, PX_EUNAVAILABLE, "cancelled");
        usleep(2000);
    }
    return 0;
}

struct exec_arg {
    struct fixture *f;
    struct px_store *st;
    char org[40], run[40];
    int rc;
};

static void *exec_thread(void *p)
{
    struct exec_arg *a = p;
    struct px_error err;
    a->rc = px_run_execute(a->st, &a->f->kr, a->f->dir, a->org, a->run, NULL, NULL, &err);
    return NULL;
}

/* A run another process recovered (its lease expired while this process stalled) cannot be
 * finished by this process: the renewal finds it gone, the executor stops, and the recovered
 * outcome stands. Without a takeover, the renewed run finishes normally. */
static void test_lease_takeover(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct json_object *o;
    for (int takeover = 1; takeover >= 0; takeover--) {
        assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &o, &err), 0);
        json_object_put(o);
        struct exec_arg a = {.f = f};
        assert_int_equal(px_run_claim(f->st, a.org, a.run, &err), 1);
        assert_int_equal(px_store_open(f->db, &a.st, &err), 0);
        atomic_store(&takeover_go, false);
        px_run_set_engine_hook(takeover_engine);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, exec_thread, &a), 0);
        int lost = -1;
        for (int i = 0; i < 1000 && atomic_load(&takeover_calls) == 0; i++)
            usleep(1000);
        if (takeover) {
            /* What another process's recovery does to an expired run. */
            exec_sql(f->st,
                     "UPDATE runs SET status = 'failed', runner = NULL, lease_until = NULL,"
                     " error = '{\"code\":\"interrupted\"}', finished_at = 1 WHERE id = ?",
                     PX_PARAMS(PX_V_TEXT(a.run)), 1);
        }
        assert_int_equal(px_run_renew_leases(f->st, &lost, &err), 0);
        assert_int_equal(lost, takeover);
        if (!takeover)
            atomic_store(&takeover_go, true);
        pthread_join(th, NULL);
        px_run_set_engine_hook(NULL);
        px_store_close(a.st);
        atomic_store(&takeover_calls, 0);
        assert_int_equal(a.rc, 0);
        assert_int_equal(px_run_get(&f->t, a.run, &o, &err), 0);
        if (takeover) {
            assert_string_equal(px_json_get_str(o, "status"), "failed");
            assert_string_equal(px_json_get_str(px_json_get(o, "error"), "code"), "interrupted");
            assert_int_equal(px_json_get_int(o, "rows_written", -1), 0);
        } else {
            assert_string_equal(px_json_get_str(o, "status"), "succeeded");
            assert_int_equal(px_json_get_int(o, "rows_written", -1), 7);
        }
        json_object_put(o);
    }
}

/* Reports where it is twice in quick succession (the second is throttled), then blocks. */
static int staged_engine(struct json_object *graph, const struct px_engine_opts *opts,
                         struct px_engine_result *out, struct px_error *err)
{
    (void)graph;
    (void)err;
    opts->stage(opts->progress_ctx, "src", 0, 0);
    opts->stage(opts->progress_ctx, "src", 100, 90);
    atomic_fetch_add(&takeover_calls, 1);
    while (!atomic_load(&takeover_go))
        usleep(2000);
    out->rows_read = 100;
    out->rows_written = 90;
    return 0;
}

/* Progress while running (issue 10 item 15): the node and the rows so far reach the run's row;
 * what the executor's throttle held back goes out with the next lease renewal (a pull that
 * blocks right after it would otherwise leave the store behind until the run ends). */
static void test_progress_flush(void **state)
{
    struct fixture *f = *state;
    struct px_error err;
    struct json_object *o;
    px_clock_set(T0); /* a still clock: the second report is always within the throttle */
    assert_int_equal(px_run_trigger(&f->t, f->p1, NULL, NULL, "manual", &o, &err), 0);
    json_object_put(o);
    struct exec_arg a = {.f = f};
    assert_int_equal(px_run_claim(f->st, a.org, a.run, &err), 1);
    assert_int_equal(px_store_open(f->db, &a.st, &err), 0);
    atomic_store(&takeover_go, false);
    atomic_store(&takeover_calls, 0);
    px_run_set_engine_hook(staged_engine);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, exec_thread, &a), 0);
    for (int i = 0; i < 2000 && atomic_load(&takeover_calls) == 0; i++)
        usleep(1000);
    char node[64];
    assert_int_equal(px_run_node(&f->t, a.run, node, &err), 0);
    assert_string_equal(node, "src");
    assert_string_equal(status_of(f, a.run), "running");
    assert_int_equal(px_run_get(&f->t, a.run, &o, &err), 0);
    assert_int_equal(px_json_get_int(o, "rows_read", -1), 0); /* the second report waits */
    json_object_put(o);
    assert_int_equal(px_run_renew_leases(f->st, NULL, &err), 0);
    assert_int_equal(px_run_get(&f->t, a.run, &o, &err), 0);
    assert_int_equal(px_json_get_int(o, "rows_read", -1), 100);
    assert_int_equal(px_json_get_int(o, "rows_written", -1), 90);
    json_object_put(o);
    atomic_store(&takeover_go, true);
    pthread_join(th, NULL);
    px_run_set_engine_hook(NULL);
    px_store_close(a.st);
    assert_int_equal(a.rc, 0);
    assert_string_equal(status_of(f, a.run), "succeeded");
    assert_int_equal(px_run_node(&f->t, a.run, node, &err), 0);
    assert_string_equal(node, "");
}

static void test_retries(void **state)
{
    struct fixture *f = *state;
    setenv("PLANASONIX_RETRY_BASE_MS", "5", 1);
    setenv("PLANASONIX_RUN_MAX_ATTEMPTS", "3", 1);
    /* A transient failure that clears: the same run succeeds on its second attempt. */
    fake_fail_first = 1;
    fake_retryable = true;
    struct json_object *o = execute_one(f, fake_engine);
    assert_int_equal(fake_calls, 2);
    assert_string_equal(px_json_get_str(o, "status"), "succeeded");
    assert_int_equal(px_json_get_int(o, "attempt", 0), 2);
    json_object_put(o);
    /* One that persists: three attempts, and the error says so. */
    fake_fail_first = 100;
    o = execute_one(f, fake_engine);
    assert_int_equal(fake_calls, 3);
    assert_string_equal(px_json_get_str(o, "status"), "failed");
    assert_int_equal(px_json_get_int(o, "attempt", 0), 3);
    struct json_object *e = px_json_get(o, "error");
    assert_true(px_json_get_bool(e, "retryable", false));
    assert_non_null(strstr(px_json_get_str(e, "message"), "database is locked"));
    assert_non_null(strstr(px_json_get_str(e, "message"), "3 attempts"));
    json_object_put(o);
    /* A permanent failure is not retried. */
    fake_retryable = false;
    o = execute_one(f, fake_engine);
    assert_int_equal(fake_calls, 1);
    assert_string_equal(px_json_get_str(o, "status"), "failed");
    assert_int_equal(px_json_get_int(o, "attempt", 0), 1);
    e = px_json_get(o, "error");
    assert_false(px_json_get_bool(e, "retryable", true));
    assert_null(strstr(px_json_get_str(e, "message"), "attempts"));
    json_object_put(o);
    unsetenv("PLANASONIX_RETRY_BASE_MS");
    unsetenv("PLANASONIX_RUN_MAX_ATTEMPTS");
}

static void test_timeout(void **state)
{
    struct fixture *f = *state;
    setenv("PLANASONIX_RUN_TIMEOUT_S", "0.05", 1);
    int64_t t0 = (int64_t)time(NULL);
    struct json_object *o = execute_one(f, slow_engine);
    assert_true((int64_t)time(NULL) - t0 < 4);
    assert_int_equal(fake_calls, 1);
    assert_string_equal(px_json_get_str(o, "status"), "timed_out");
    assert_true(px_run_finished(o));
    struct json_object *e = px_json_get(o, "error");
    assert_string_equal(px_json_get_str(e, "code"), "timed_out");
    assert_non_null(strstr(px_json_get_str(e, "message"), "0.05 s"));
    assert_non_null(strstr(px_json_get_str(e, "hint"), "PLANASONIX_RUN_TIMEOUT_S"));
    json_object_put(o);
    /* The timeout also ends a retrying run during its backoff. */
    setenv("PLANASONIX_RETRY_BASE_MS", "60000", 1);
    fake_fail_first = 100;
    fake_retryable = true;
    t0 = (int64_t)time(NULL);
    o = execute_one(f, fake_engine);
    assert_true((int64_t)time(NULL) - t0 < 4);
    assert_string_equal(px_json_get_str(o, "status"), "timed_out");
    json_object_put(o);
    unsetenv("PLANASONIX_RETRY_BASE_MS");
    unsetenv("PLANASONIX_RUN_TIMEOUT_S");
}

/* ---- incremental sources (the real engine, its graph and connections given by the hook) --- */

static const char *inc_graph; /* the graph the hooked engine runs */

static int inc_conn(void *ctx, const char *id, struct json_object **out, struct px_error *err)
{
    (void)ctx;
    if (strcmp(id, "c_src") == 0)
        *out = json_tokener_parse("{\"path\": \"src.db\"}");
    else if (strcmp(id, "c_out") == 0)
        *out = json_tokener_parse("{\"path\": \"out.csv\"}");
    else
        return px_error_set(err, PX_ENOTFOUND, "no connection %s", id);
    return 0;
}

static int inc_engine(struct json_object *graph, const struct px_engine_opts *opts,
                      struct px_engine_result *out, struct px_error *err)
{
    (void)graph;
    struct px_engine_opts o = *opts;
    o.conn = inc_conn;
    struct json_object *g = json_tokener_parse(inc_graph);
    int rc = px_engine_run(g, &o, out, err);
    json_object_put(g);
    return rc;
}

static void sqlite_exec(struct fixture *f, const char *sql)
{
    char path[256];
    /* org_a's files directory: the files root's org_a/ (px_org_files_dir). */
    snprintf(path, sizeof(path), "%s/org_a", f->dir);
    (void)mkdir(path, 0700);
    snprintf(path, sizeof(path), "%s/org_a/src.db", f->dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return strdup("");
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return strdup(buf);
}

static void test_incremental(void **state)
{
    struct fixture *f = *state;
    char out[256];
    snprintf(out, sizeof(out), "%s/org_a/out.csv", f->dir);
    sqlite_exec(f, "CREATE TABLE events (id INTEGER, v TEXT);"
                   " INSERT INTO events VALUES (1, 'a'), (2, 'b'), (3, 'c');");
    const char *plain = "{\"nodes\": ["
                        "{\"id\": \"src\", \"kind\": \"source\", \"type\": \"sqlite\","
                        " \"connection_id\": \"c_src\","
                        " \"config\": {\"table\": \"events\", \"cursor_column\": \"id\"}},"
                        "{\"id\": \"out\", \"kind\": \"destination\", \"type\": \"csv\","
                        " \"connection_id\": \"c_out\", \"config\": {\"mode\": \"append\"}}],"
                        " \"edges\": [{\"from\": \"src\", \"to\": \"out\"}]}";
    /* 1/(id - 5) fails on row 5: a run that reads new rows but fails. */
    const char *failing = "{\"nodes\": ["
                          "{\"id\": \"src\", \"kind\": \"source\", \"type\": \"sqlite\","
                          " \"connection_id\": \"c_src\","
                          " \"config\": {\"table\": \"events\", \"cursor_column\": \"id\"}},"
                          "{\"id\": \"f\", \"kind\": \"transform\", \"type\": \"filter\","
                          " \"config\": {\"condition\": \"1 / (id - 5) <> 7\"}},"
                          "{\"id\": \"out\", \"kind\": \"destination\", \"type\": \"csv\","
                          " \"connection_id\": \"c_out\", \"config\": {\"mode\": \"append\"}}],"
                          " \"edges\": [{\"from\": \"src\", \"to\": \"f\"},"
                          " {\"from\": \"f\", \"to\": \"out\"}]}";
    inc_graph = plain;
    struct json_object *o = execute_one(f, inc_engine);
    assert_string_equal(px_json_get_str(o, "status"), "succeeded");
    assert_int_equal(px_json_get_int(o, "rows_read", -1), 3);
    json_object_put(o);
    /* Nothing new: nothing read. */
    o = execute_one(f, inc_engine);
    assert_int_equal(px_json_get_int(o, "rows_read", -1), 0);
    json_object_put(o);
    /* Two new rows, one of which makes the run fail: the position stays at 3. */
    sqlite_exec(f, "INSERT INTO events VALUES (4, 'd'), (5, 'e');");
    inc_graph = failing;
    o = execute_one(f, inc_engine);
    assert_string_equal(px_json_get_str(o, "status"), "failed");
    json_object_put(o);
    inc_graph = plain;
    o = execute_one(f, inc_engine);
    assert_string_equal(px_json_get_str(o, "status"), "succeeded");
    assert_int_equal(px_json_get_int(o, "rows_read", -1), 2);
    json_object_put(o);
    char *text = read_text(out);
    assert_string_equal(text, "id,v\n1,a\n2,b\n3,c\n4,d\n5,e\n");
    free(text);
    /* The stored position names the column and the last value. */
    struct px_error err;
    struct px_rows *rows;
    assert_int_equal(
        px_store_query(f->st, "SELECT position FROM pipeline_cursors", NULL, 0, &rows, &err), 0);
    assert_int_equal(px_rows_next(rows, &err), 1);
    struct json_object *pos = json_tokener_parse(px_rows_text(rows, 0));
    px_rows_free(rows);
    assert_string_equal(px_json_get_str(pos, "column"), "id");
    assert_string_equal(px_json_get_str(pos, "type"), "int");
    assert_int_equal(px_json_get_int(pos, "value", 0), 5);
    json_object_put(pos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trigger_and_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_and_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fair_claim, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incremental, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
