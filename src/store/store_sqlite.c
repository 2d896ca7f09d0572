/*
 * SQLite backend of the store (store_int.h): WAL journal, synchronous=FULL, foreign keys on,
 * a busy timeout so a second process waits instead of failing, and a small cache of prepared
 * statements keyed by SQL text. Knows nothing about the tables above it.
 */
#include "base/embed.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/store_int.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 64

struct cached {
    char *sql;
    sqlite3_stmt *stmt;
    bool in_use;
};

struct sq {
    sqlite3 *db;
    struct cached cache[STMT_CACHE];
    int ncache;
};

struct sq_cursor {
    struct sq *sq;
    sqlite3_stmt *stmt;
    struct cached *slot; /* cache slot to release, or NULL for an uncached statement */
};

static int sq_fail(struct sq *sq, int rc, struct px_error *err, const char *what)
{
    int ext = sqlite3_extended_errcode(sq->db);
    if ((rc & 0xff) == SQLITE_CONSTRAINT &&
        (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
        return px_error_set(err, PX_ECONFLICT, "%s: %s", what, sqlite3_errmsg(sq->db));
    if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
        int r = px_error_set(err, PX_ESTORE, "%s: the database is busy", what);
        return r;
    }
    int r = px_error_set(err, PX_ESTORE, "%s: %s", what, sqlite3_errmsg(sq->db));
    if (err)
        err->retryable = false;
    return r;
}

/* Process-wide SQLite settings, before the library's first use (sqlite3_config refuses them
 * afterwards, harmlessly). Memory statistics off: with them on, every allocation SQLite makes
 * takes one global mutex, which the threads of `serve` were fighting over on each query. */
static void sq_global_init(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_open(const char *url, void **conn_out, struct px_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sq_global_init);
    const char *path = strncmp(url, "sqlite://", 9) == 0 ? url + 9 : url;
    struct sq *sq = px_xcalloc(1, sizeof(*sq));
    int rc = sqlite3_open_v2(
        path, &sq->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        px_error_set(err, PX_ESTORE, "cannot open the SQLite store at %s: %s", path,
                     sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
        px_error_hint(err, "check that PLANASONIX_HOME points to a writable directory");
        sqlite3_close(sq->db);
        free(sq);
        return -PX_ESTORE;
    }
    sqlite3_busy_timeout(sq->db, 10000);
    sqlite3_extended_result_codes(sq->db, 1);
    static const char *const pragmas = "PRAGMA journal_mode=WAL;"
                                       "PRAGMA synchronous=FULL;"
                                       "PRAGMA foreign_keys=ON;"
                                       "PRAGMA trusted_schema=OFF;";
    char *msg = NULL;
    if (sqlite3_exec(sq->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        px_error_set(err, PX_ESTORE, "cannot configure the SQLite store at %s: %s", path,
                     msg ? msg : "unknown error");
        sqlite3_free(msg);
        sqlite3_close(sq->db);
        free(sq);
        return -PX_ESTORE;
    }
    *conn_out = sq;
    return 0;
}

static void sq_close(void *conn)
{
    struct sq *sq = conn;
    for (int i = 0; i < sq->ncache; i++) {
        sqlite3_finalize(sq->cache[i].stmt);
        free(sq->cache[i].sql);
    }
    sqlite3_close(sq->db);
    free(sq);
}

static int sq_exec_script(void *conn, const char *sql, struct px_error *err)
{
    struct sq *sq = conn;
    char *msg = NULL;
    int rc = sqlite3_exec(sq->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        px_error_set(err, (rc & 0xff) == SQLITE_BUSY ? PX_ESTORE : PX_ESTORE, "store: %s",
                     msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return -PX_ESTORE;
    }
    return 0;
}

/* BEGIN IMMEDIATE takes the write lock at once (waiting up to the busy timeout), so a
 * transaction that reads before it writes never fails on the upgrade half-way. */
static int sq_begin(void *conn, struct px_error *err)
{
    return sq_exec_script(conn, "BEGIN IMMEDIATE", err);
}

static int sq_commit(void *conn, struct px_error *err)
{
    return sq_exec_script(conn, "COMMIT", err);
}

static void sq_rollback(void *conn)
{
    (void)sq_exec_script(conn, "ROLLBACK", NULL);
}

/* Finds or prepares a statement; *slot_out is its cache slot (NULL when uncached). */
static int sq_prepare(struct sq *sq, const char *sql, sqlite3_stmt **stmt_out,
                      struct cached **slot_out, struct px_error *err)
{
    for (int i = 0; i < sq->ncache; i++) {
        struct cached *c = &sq->cache[i];
        if (!c->in_use && strcmp(c->sql, sql) == 0) {
            c->in_use = true;
            *stmt_out = c->stmt;
            *slot_out = c;
            return 0;
        }
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(sq->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return sq_fail(sq, rc, err, "store: cannot prepare a statement");
    *stmt_out = stmt;
    *slot_out = NULL;
    if (sq->ncache < STMT_CACHE) {
        struct cached *c = &sq->cache[sq->ncache++];
        c->sql = px_xstrdup(sql);
        c->stmt = stmt;
        c->in_use = true;
        *slot_out = c;
    }
    return 0;
}

static void sq_release(sqlite3_stmt *stmt, struct cached *slot)
{
    if (slot) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        slot->in_use = false;
    } else {
        sqlite3_finalize(stmt);
    }
}

static int sq_bind(struct sq *sq, sqlite3_stmt *stmt, const struct px_val *params, size_t n,
                   struct px_error *err)
{
    if ((int)n != sqlite3_bind_parameter_count(stmt))
        return px_error_set(err, PX_EINTERNAL, "store: statement expects %d parameters, got %zu",
                            sqlite3_bind_parameter_count(stmt), n);
    for (size_t i = 0; i < n; i++) {
        int rc, idx = (int)i + 1;
        switch (params[i].type) {
        case PX_SV_INT:
            rc = sqlite3_bind_int64(stmt, idx, params[i].i);
            break;
        case PX_SV_TEXT:
            rc = sqlite3_bind_text(stmt, idx, params[i].s, -1, SQLITE_TRANSIENT);
            break;
        default:
            rc = sqlite3_bind_null(stmt, idx);
            break;
        }
        if (rc != SQLITE_OK)
            return sq_fail(sq, rc, err, "store: cannot bind a parameter");
    }
    return 0;
}

static int sq_exec(void *conn, const char *sql, const struct px_val *params, size_t n,
                   int64_t *changes_out, struct px_error *err)
{
    struct sq *sq = conn;
    sqlite3_stmt *stmt;
    struct cached *slot;
    int rc = sq_prepare(sq, sql, &stmt, &slot, err);
    if (rc)
        return rc;
    rc = sq_bind(sq, stmt, params, n, err);
    if (!rc) {
        int s;
        while ((s = sqlite3_step(stmt)) == SQLITE_ROW)
            ;
        if (s != SQLITE_DONE)
            rc = sq_fail(sq, s, err, "store");
        else if (changes_out)
            *changes_out = sqlite3_changes64(sq->db);
    }
    sq_release(stmt, slot);
    return rc;
}

static int sq_query(void *conn, const char *sql, const struct px_val *params, size_t n,
                    void **cursor_out, struct px_error *err)
{
    struct sq *sq = conn;
    sqlite3_stmt *stmt;
    struct cached *slot;
    int rc = sq_prepare(sq, sql, &stmt, &slot, err);
    if (rc)
        return rc;
    rc = sq_bind(sq, stmt, params, n, err);
    if (rc) {
        sq_release(stmt, slot);
        return rc;
    }
    struct sq_cursor *cur = px_xmalloc(sizeof(*cur));
    cur->sq = sq;
    cur->stmt = stmt;
    cur->slot = slot;
    *cursor_out = cur;
    return 0;
}

static int sq_next(void *cursor, struct px_error *err)
{
    struct sq_cursor *cur = cursor;
    int rc = sqlite3_step(cur->stmt);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sq_fail(cur->sq, rc, err, "store");
}

static int64_t sq_col_int(void *cursor, int col)
{
    return sqlite3_column_int64(((struct sq_cursor *)cursor)->stmt, col);
}

static const char *sq_col_text(void *cursor, int col)
{
    return (const char *)sqlite3_column_text(((struct sq_cursor *)cursor)->stmt, col);
}

static bool sq_col_is_null(void *cursor, int col)
{
    return sqlite3_column_type(((struct sq_cursor *)cursor)->stmt, col) == SQLITE_NULL;
}

static void sq_cursor_free(void *cursor)
{
    struct sq_cursor *cur = cursor;
    sq_release(cur->stmt, cur->slot);
    free(cur);
}

static int64_t sq_data_version(void *conn)
{
    struct sq *sq = conn;
    sqlite3_stmt *stmt;
    struct cached *slot;
    if (sq_prepare(sq, "PRAGMA data_version", &stmt, &slot, NULL))
        return -1;
    int64_t v = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    sq_release(stmt, slot);
    return v;
}

const struct px_store_ops px_store_sqlite_ops = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .exec_script = sq_exec_script,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .exec = sq_exec,
    .query = sq_query,
    .next = sq_next,
    .col_int = sq_col_int,
    .col_text = sq_col_text,
    .col_is_null = sq_col_is_null,
    .cursor_free = sq_cursor_free,
    .data_version = sq_data_version,
    .migrations = px_embed_migrations_sqlite,
    .migration_count = &px_embed_migrations_sqlite_count,
};
