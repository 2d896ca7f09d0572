/* Store: migrations, nested transactions, constraints that protect tenants, append-only audit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/audit.h"
#include "base/embed.h"
#include "base/err.h"
#include "store/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];
static char path[128];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/px-store-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/t.db", dir);
    struct px_store *st;
    struct px_error err;
    assert_int_equal(px_store_open(path, &st, &err), 0);
    *state = st;
    return 0;
}

static int teardown(void **state)
{
    px_store_close(*state);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void exec_ok(struct px_store *st, const char *sql)
{
    struct px_error err;
    int rc = px_store_exec(st, sql, NULL, 0, NULL, &err);
    if (rc)
        fail_msg("%s: %s", sql, err.message);
}

static void migrations_apply_once(void **state)
{
    struct px_store *st = *state;
    int v = px_store_schema_version(st);
    assert_true(v >= 1);
    int applied = -1;
    struct px_error err;
    assert_int_equal(px_store_migrate(st, &applied, &err), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(px_store_schema_version(st), v);
}

static void nested_transactions_roll_back_whole(void **state)
{
    struct px_store *st = *state;
    struct px_error err;
    assert_int_equal(px_store_begin(st, &err), 0);
    exec_ok(st, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                "('org_a', 'A', 'premium', NULL, 1, 1)");
    assert_int_equal(px_store_begin(st, &err), 0);
    exec_ok(st, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                "('org_b', 'B', 'premium', NULL, 1, 1)");
    px_store_rollback(st); /* inner failure */
    assert_int_not_equal(px_store_commit(st, &err), 0);
    int64_t n = -1;
    assert_int_equal(px_store_query_int(st, "SELECT COUNT(*) FROM orgs", NULL, 0, &n, &err), 1);
    assert_int_equal(n, 0);
}

static void unique_violation_is_conflict(void **state)
{
    struct px_store *st = *state;
    struct px_error err;
    exec_ok(st, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                "('org_a', 'A', 'premium', NULL, 1, 1)");
    int rc = px_store_exec(st,
                           "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) "
                           "VALUES ('org_b', 'A', 'premium', NULL, 1, 1)",
                           NULL, 0, NULL, &err);
    assert_int_equal(rc, -PX_ECONFLICT);
}

static void composite_foreign_keys_block_cross_org_references(void **state)
{
    struct px_store *st = *state;
    struct px_error err;
    exec_ok(st, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                "('org_a', 'A', 'premium', NULL, 1, 1)");
    exec_ok(st, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                "('org_b', 'B', 'premium', NULL, 1, 1)");
    exec_ok(st, "INSERT INTO pipelines (org_id, id, name, description, status, revision,"
                " created_at, updated_at) VALUES ('org_a', 'pl_1', 'p', 'd', 'active', 1, 1, 1)");
    /* A schedule of org B pointing at org A's pipeline must be refused. */
    int rc = px_store_exec(st,
                           "INSERT INTO schedules (org_id, id, pipeline_id, cron_expression,"
                           " frequency, timezone, enabled, created_at, updated_at) VALUES"
                           " ('org_b', 'sch_1', 'pl_1', '0 6 * * *', 'daily', 'UTC', 1, 1, 1)",
                           NULL, 0, NULL, &err);
    assert_true(rc < 0);
    exec_ok(st, "INSERT INTO schedules (org_id, id, pipeline_id, cron_expression, frequency,"
                " timezone, enabled, created_at, updated_at) VALUES"
                " ('org_a', 'sch_1', 'pl_1', '0 6 * * *', 'daily', 'UTC', 1, 1, 1)");
}

static void last_run_of(struct px_store *st, const char *want)
{
    struct px_rows *rows;
    struct px_error err;
    assert_int_equal(px_store_query(st,
                                    "SELECT last_run_id FROM pipelines WHERE org_id = 'org_a'"
                                    " AND id = 'pl_1'",
                                    NULL, 0, &rows, &err),
                     0);
    assert_int_equal(px_rows_next(rows, &err), 1);
    if (want)
        assert_string_equal(px_rows_text(rows, 0), want);
    else
        assert_true(px_rows_is_null(rows, 0));
    px_rows_free(rows);
}

/* pipelines.last_run_id follows the latest run by (queued_at, id), whatever the insert order;
 * another pipeline's runs do not move it. */
static void last_run_follows_the_latest_run(void **state)
{
    struct px_store *st = *state;
    exec_ok(st, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                "('org_a', 'A', 'premium', NULL, 1, 1)");
    exec_ok(st, "INSERT INTO pipelines (org_id, id, name, description, status, revision,"
                " created_at, updated_at) VALUES ('org_a', 'pl_1', 'p', 'd', 'active', 1, 1, 1),"
                " ('org_a', 'pl_2', 'q', 'd', 'active', 1, 1, 1)");
    last_run_of(st, NULL);
    static const char *const runs[][3] = {
        {"run_b", "pl_1", "200"}, {"run_a", "pl_1", "100"}, /* older, inserted later */
        {"run_c", "pl_1", "200"},                           /* same time, larger id */
        {"run_z", "pl_2", "900"},                           /* another pipeline */
        {"run_0", "pl_1", "200"},                           /* same time, smaller id */
    };
    static const char *const expect[] = {"run_b", "run_b", "run_c", "run_c", "run_c"};
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        char sql[300];
        snprintf(sql, sizeof(sql),
                 "INSERT INTO runs (org_id, id, pipeline_id, revision, trigger, status, queued_at)"
                 " VALUES ('org_a', '%s', '%s', 1, 'manual', 'queued', %s)",
                 runs[i][0], runs[i][1], runs[i][2]);
        exec_ok(st, sql);
        last_run_of(st, expect[i]);
    }
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg);
}

/* A store made before migration 0004 (its first three migrations, with data) gets the list
 * columns filled in when it is opened: the current revision's node count, the latest run. */
static void migration_4_backfills_the_list_columns(void **state)
{
    (void)state;
    char old[160];
    snprintf(old, sizeof(old), "%s/old.db", dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(old, &db), SQLITE_OK);
    raw_exec(db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                 " applied_at BIGINT NOT NULL)");
    for (size_t i = 0; i < px_embed_migrations_sqlite_count; i++) {
        const struct px_embed *m = &px_embed_migrations_sqlite[i];
        int version = atoi(m->name);
        if (version >= 4)
            continue;
        raw_exec(db, m->data);
        char sql[200];
        snprintf(sql, sizeof(sql), "INSERT INTO schema_migrations VALUES (%d, '%s', 1)", version,
                 m->name);
        raw_exec(db, sql);
    }
    raw_exec(db, "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) VALUES "
                 "('org_a', 'A', 'premium', NULL, 1, 1);"
                 "INSERT INTO pipelines (org_id, id, name, description, status, revision,"
                 " created_at, updated_at) VALUES ('org_a', 'pl_1', 'p', 'd', 'active', 2, 1, 1),"
                 " ('org_a', 'pl_2', 'q', 'd', 'active', 1, 1, 1);"
                 "INSERT INTO pipeline_revisions (org_id, pipeline_id, revision, graph, node_count,"
                 " description, created_at) VALUES ('org_a', 'pl_1', 1, '{}', 3, 'd', 1),"
                 " ('org_a', 'pl_1', 2, '{}', 7, 'd', 1), ('org_a', 'pl_2', 1, '{}', 2, 'd', 1);"
                 "INSERT INTO runs (org_id, id, pipeline_id, revision, trigger, status, queued_at)"
                 " VALUES ('org_a', 'run_2', 'pl_1', 2, 'manual', 'failed', 300),"
                 " ('org_a', 'run_1', 'pl_1', 1, 'manual', 'succeeded', 100)");
    sqlite3_close(db);

    struct px_store *st;
    struct px_error err;
    assert_int_equal(px_store_open(old, &st, &err), 0);
    assert_true(px_store_schema_version(st) >= 4);
    struct px_rows *rows;
    assert_int_equal(px_store_query(st,
                                    "SELECT id, node_count, last_run_id FROM pipelines"
                                    " ORDER BY id",
                                    NULL, 0, &rows, &err),
                     0);
    assert_int_equal(px_rows_next(rows, &err), 1);
    assert_int_equal(px_rows_int(rows, 1), 7);
    assert_string_equal(px_rows_text(rows, 2), "run_2");
    assert_int_equal(px_rows_next(rows, &err), 1);
    assert_int_equal(px_rows_int(rows, 1), 2);
    assert_true(px_rows_is_null(rows, 2));
    assert_int_equal(px_rows_next(rows, &err), 0);
    px_rows_free(rows);
    px_store_close(st);
}

static void audit_log_is_append_only(void **state)
{
    struct px_store *st = *state;
    struct px_error err;
    struct px_audit_entry e = {
        .at = 5, .transport = "stdio", .method = "tools/call", .outcome = "ok", .latency_us = 10};
    assert_int_equal(px_audit_write(st, &e, &err), 0);
    assert_true(px_store_exec(st, "UPDATE audit_log SET outcome = 'x'", NULL, 0, NULL, &err) < 0);
    assert_true(px_store_exec(st, "DELETE FROM audit_log", NULL, 0, NULL, &err) < 0);
    int64_t n = 0;
    assert_int_equal(px_store_query_int(st, "SELECT COUNT(*) FROM audit_log", NULL, 0, &n, &err),
                     1);
    assert_int_equal(n, 1);
}

static void audit_queue_flushes_in_one_transaction(void **state)
{
    struct px_store *st = *state;
    struct px_audit *a = px_audit_create();
    struct px_audit_entry e = {
        .at = 5, .transport = "stdio", .method = "tools/list", .outcome = "ok"};
    for (int i = 0; i < 10; i++)
        px_audit_enqueue(a, &e);
    assert_int_equal(px_audit_flush(a, st), 0);
    int64_t n = 0;
    assert_int_equal(px_store_query_int(st, "SELECT COUNT(*) FROM audit_log", NULL, 0, &n, NULL),
                     1);
    assert_int_equal(n, 10);
    px_audit_destroy(a);
}

static void wake_count(void *arg)
{
    ++*(int *)arg;
}

/* With a background flusher, request threads never flush: the flusher is woken once as the
 * queue fills, and every field (NULLs included) reaches the table intact. */
static void audit_queue_wakes_its_flusher(void **state)
{
    struct px_store *st = *state;
    struct px_audit *a = px_audit_create();
    int woken = 0;
    px_audit_set_flusher(a, wake_count, &woken);
    struct px_audit_entry e = {.at = 7,
                               .org_id = "org_a",
                               .transport = "http",
                               .method = "tools/call",
                               .tool = "list_pipelines",
                               .outcome = "ok",
                               .latency_us = 42,
                               .arguments = "{\"limit\":5}"};
    bool caller_flushes = false;
    for (int i = 0; i < 300; i++)
        caller_flushes |= px_audit_enqueue(a, &e);
    assert_false(caller_flushes);
    assert_int_equal(woken, 1);
    assert_int_equal(px_audit_pending(a), 300);
    assert_int_equal(px_audit_flush(a, st), 0);
    int64_t n = 0;
    assert_int_equal(
        px_store_query_int(st,
                           "SELECT COUNT(*) FROM audit_log WHERE at = 7 AND org_id = 'org_a'"
                           " AND key_id IS NULL AND transport = 'http' AND tool = 'list_pipelines'"
                           " AND target_id IS NULL AND error_code IS NULL AND latency_us = 42"
                           " AND arguments = '{\"limit\":5}'",
                           NULL, 0, &n, NULL),
        1);
    assert_int_equal(n, 300);
    /* Without one, the caller is told to flush once the queue is full. */
    px_audit_set_flusher(a, NULL, NULL);
    caller_flushes = false;
    for (int i = 0; i < 256; i++)
        caller_flushes = px_audit_enqueue(a, &e);
    assert_true(caller_flushes);
    assert_int_equal(woken, 1);
    px_audit_destroy(a);
}

static void redaction_hides_secret_values(void **state)
{
    (void)state;
    struct json_object *args =
        json_tokener_parse("{\"name\":\"x\",\"params\":{\"host\":\"h\",\"password\":\"canary-123\","
                           "\"auth_token\":\"tok-9\",\"nested\":[{\"db_password\":\"p2\"}],"
                           "\"headers\":{\"X-Api-Key\":\"hdr-77\"}}}");
    char *r = px_audit_redact(args);
    /* Header values are secrets; their names stay in the trail. */
    assert_null(strstr(r, "hdr-77"));
    assert_non_null(strstr(r, "\"headers\":{\"X-Api-Key\":\"[redacted]\"}"));
    assert_null(strstr(r, "canary-123"));
    assert_null(strstr(r, "tok-9"));
    assert_null(strstr(r, "p2"));
    assert_non_null(strstr(r, "[redacted]"));
    assert_non_null(strstr(r, "\"host\":\"h\""));
    free(r);
    json_object_put(args);
}

static void params_bind_and_rows_read(void **state)
{
    struct px_store *st = *state;
    struct px_error err;
    assert_int_equal(
        px_store_exec(st,
                      "INSERT INTO orgs (id, name, plan, rate_limit, created_at, updated_at) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      PX_PARAMS(PX_V_TEXT("org_x"), PX_V_TEXT("it's \"quoted\""),
                                PX_V_TEXT("starter"), PX_V_NULL, PX_V_INT(7), PX_V_INT(8)),
                      6, NULL, &err),
        0);
    struct px_rows *rows;
    assert_int_equal(px_store_query(st,
                                    "SELECT name, rate_limit, created_at FROM orgs WHERE id = ?",
                                    PX_PARAMS(PX_V_TEXT("org_x")), 1, &rows, &err),
                     0);
    assert_int_equal(px_rows_next(rows, &err), 1);
    assert_string_equal(px_rows_text(rows, 0), "it's \"quoted\"");
    assert_true(px_rows_is_null(rows, 1));
    assert_int_equal(px_rows_int(rows, 2), 7);
    assert_int_equal(px_rows_next(rows, &err), 0);
    px_rows_free(rows);
    /* Wrong parameter count is an error, not a crash. */
    assert_true(px_store_exec(st, "SELECT ?", NULL, 0, NULL, &err) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(migrations_apply_once, setup, teardown),
        cmocka_unit_test_setup_teardown(nested_transactions_roll_back_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(unique_violation_is_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(composite_foreign_keys_block_cross_org_references, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(last_run_follows_the_latest_run, setup, teardown),
        cmocka_unit_test_setup_teardown(migration_4_backfills_the_list_columns, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_log_is_append_only, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_queue_flushes_in_one_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(audit_queue_wakes_its_flusher, setup, teardown),
        cmocka_unit_test_setup_teardown(redaction_hides_secret_values, setup, teardown),
        cmocka_unit_test_setup_teardown(params_bind_and_rows_read, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
