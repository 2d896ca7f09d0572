/* The store's backend table (store_int.h): the URL scheme picks the backend, every backend
 * fills the whole interface (its own transactions included), and a scheme this build has no
 * backend for is a clear error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "store/store.h"
#include "store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void every_backend_fills_the_interface(void **state)
{
    (void)state;
    int rows = 0, defaults = 0;
    for (const struct px_store_backend *b = px_store_backends;; b++) {
        rows++;
        assert_non_null(b->label);
        const struct px_store_ops *o = b->ops;
        if (o) {
            assert_non_null(o->name);
            assert_non_null(o->open);
            assert_non_null(o->close);
            assert_non_null(o->exec_script);
            assert_non_null(o->begin);
            assert_non_null(o->commit);
            assert_non_null(o->rollback);
            assert_non_null(o->exec);
            assert_non_null(o->query);
            assert_non_null(o->next);
            assert_non_null(o->col_int);
            assert_non_null(o->col_text);
            assert_non_null(o->col_is_null);
            assert_non_null(o->cursor_free);
            assert_non_null(o->migrations);
            assert_non_null(o->migration_count);
            assert_true(*o->migration_count > 0);
        }
        if (!b->scheme) {
            defaults++;
            assert_non_null(o); /* the default row must be a real backend */
            break;
        }
    }
    assert_int_equal(defaults, 1);
    assert_true(rows >= 2);
}

static void the_scheme_picks_the_backend(void **state)
{
    (void)state;
    assert_ptr_equal(px_store_backend_for("/var/lib/px/planasonix.db")->ops, &px_store_sqlite_ops);
    assert_ptr_equal(px_store_backend_for("relative.db")->ops, &px_store_sqlite_ops);
    assert_ptr_equal(px_store_backend_for("sqlite:///tmp/x.db")->ops, &px_store_sqlite_ops);
    assert_null(px_store_backend_for("postgres://u@h/db")->ops);
    assert_null(px_store_backend_for("postgresql://u@h/db")->ops);
    assert_string_equal(px_store_backend_for("postgres://u@h/db")->label, "PostgreSQL");
}

static void a_scheme_without_a_backend_is_a_clear_error(void **state)
{
    (void)state;
    struct px_store *st = (struct px_store *)1;
    struct px_error err;
    px_error_clear(&err);
    assert_int_equal(px_store_open("postgres://u@localhost/px", &st, &err), -PX_EUNAVAILABLE);
    assert_null(st);
    assert_string_equal(err.message, "the PostgreSQL store is not available in this build yet");
    assert_string_equal(err.hint, "unset DATABASE_URL to use the embedded SQLite store");
}

/* A sqlite:// URL opens a SQLite file, and a transaction there runs through the backend's own
 * begin/commit/rollback: a rolled-back write is gone, a committed one stays. */
static void sqlite_url_opens_and_transactions_reach_the_backend(void **state)
{
    (void)state;
    char dir[64], url[128];
    snprintf(dir, sizeof(dir), "/tmp/px-backends-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof(url), "sqlite://%s/t.db", dir);
    struct px_store *st;
    struct px_error err;
    assert_int_equal(px_store_open(url, &st, &err), 0);
    assert_string_equal(px_store_backend(st), "sqlite");
    assert_int_equal(px_store_exec(st, "CREATE TABLE t (v INTEGER)", NULL, 0, NULL, &err), 0);
    assert_int_equal(px_store_begin(st, &err), 0);
    assert_int_equal(
        px_store_exec(st, "INSERT INTO t VALUES (?)", PX_PARAMS(PX_V_INT(1)), 1, NULL, &err), 0);
    px_store_rollback(st);
    assert_int_equal(px_store_begin(st, &err), 0);
    assert_int_equal(
        px_store_exec(st, "INSERT INTO t VALUES (?)", PX_PARAMS(PX_V_INT(2)), 1, NULL, &err), 0);
    assert_int_equal(px_store_commit(st, &err), 0);
    int64_t sum = 0;
    assert_int_equal(px_store_query_int(st, "SELECT SUM(v) FROM t", NULL, 0, &sum, &err), 1);
    assert_int_equal(sum, 2);
    px_store_close(st);
    char path[160];
    snprintf(path, sizeof(path), "%s/t.db", dir);
    assert_int_equal(access(path, F_OK), 0);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_backend_fills_the_interface),
        cmocka_unit_test(the_scheme_picks_the_backend),
        cmocka_unit_test(a_scheme_without_a_backend_is_a_clear_error),
        cmocka_unit_test(sqlite_url_opens_and_transactions_reach_the_backend),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
