/* Store front end: backend choice by URL scheme, nested transactions, migrations and the pool
 * (see store.h; the backend interface is store_int.h). */
#include "store/store.h"

#include "base/embed.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/clock.h"
#include "store/store_int.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct px_store {
    const struct px_store_ops *ops;
    void *conn;
    int tx_depth;   /* nesting depth of px_store_begin */
    bool tx_failed; /* an inner rollback happened; the outer commit must fail */
    /* Test hook (px_store_inject_fault): calls counted since it was set, and the one to fail
     * (0: none). Inert unless a test sets it. */
    int64_t fault_calls, fault_at;
};

struct px_rows {
    const struct px_store_ops *ops;
    void *cursor;
};

/* Adding a backend: its ops in one new file (store_NAME.c) and its rows here. */
const struct px_store_backend px_store_backends[] = {
    {"postgres://", "PostgreSQL", NULL}, /* not written yet */
    {"postgresql://", "PostgreSQL", NULL},
    {"sqlite://", "SQLite", &px_store_sqlite_ops},
    {NULL, "SQLite", &px_store_sqlite_ops}, /* the default: a file path */
};

const struct px_store_backend *px_store_backend_for(const char *url)
{
    const struct px_store_backend *b = px_store_backends;
    for (; b->scheme; b++)
        if (strncmp(url, b->scheme, strlen(b->scheme)) == 0)
            return b;
    return b;
}

int px_store_open(const char *url, struct px_store **out, struct px_error *err)
{
    *out = NULL;
    if (!url || !*url)
        return px_error_set(err, PX_EINVALID, "no store location given");
    const struct px_store_backend *backend = px_store_backend_for(url);
    const struct px_store_ops *ops = backend->ops;
    if (!ops) {
        int rc = px_error_set(err, PX_EUNAVAILABLE,
                              "the %s store is not available in this build yet", backend->label);
        px_error_hint(err, "unset DATABASE_URL to use the embedded SQLite store");
        return rc;
    }
    void *conn = NULL;
    int rc = ops->open(url, &conn, err);
    if (rc)
        return rc;
    struct px_store *st = px_xcalloc(1, sizeof(*st));
    st->ops = ops;
    st->conn = conn;
    rc = px_store_migrate(st, NULL, err);
    if (rc) {
        px_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

void px_store_close(struct px_store *st)
{
    if (!st)
        return;
    st->ops->close(st->conn);
    free(st);
}

int64_t px_store_data_version(struct px_store *st)
{
    return st->ops->data_version ? st->ops->data_version(st->conn) : -1;
}

const char *px_store_backend(const struct px_store *st)
{
    return st->ops->name;
}

int64_t px_store_inject_fault(struct px_store *st, int64_t n)
{
    int64_t calls = st->fault_calls;
    st->fault_calls = 0;
    st->fault_at = n > 0 ? n : 0;
    return calls;
}

/* Counts one call that reaches the database; true when it is the one to fail. */
static bool fault_now(struct px_store *st)
{
    return ++st->fault_calls == st->fault_at;
}

static int fault_error(struct px_error *err)
{
    return px_error_set(err, PX_ESTORE, "store failure injected by a test");
}

int px_store_begin(struct px_store *st, struct px_error *err)
{
    if (st->tx_depth == 0 && fault_now(st))
        return fault_error(err);
    if (st->tx_depth++ > 0)
        return 0;
    st->tx_failed = false;
    int rc = st->ops->begin(st->conn, err);
    if (rc)
        st->tx_depth = 0;
    return rc;
}

int px_store_commit(struct px_store *st, struct px_error *err)
{
    if (st->tx_depth <= 0)
        return px_error_set(err, PX_EINTERNAL, "commit without a transaction");
    if (--st->tx_depth > 0)
        return 0;
    if (fault_now(st))
        st->tx_failed = true; /* the commit fails: the transaction is rolled back */
    if (st->tx_failed) {
        st->ops->rollback(st->conn);
        return px_error_set(err, PX_ESTORE, "transaction was rolled back");
    }
    int rc = st->ops->commit(st->conn, err);
    if (rc)
        st->ops->rollback(st->conn);
    return rc;
}

void px_store_rollback(struct px_store *st)
{
    if (st->tx_depth <= 0)
        return;
    if (--st->tx_depth > 0) {
        st->tx_failed = true;
        return;
    }
    st->ops->rollback(st->conn);
}

int px_store_finish(struct px_store *st, int rc, struct px_error *err)
{
    if (rc) {
        px_store_rollback(st);
        return rc;
    }
    return px_store_commit(st, err);
}

int px_store_exec(struct px_store *st, const char *sql, const struct px_val *params, size_t n,
                  int64_t *changes_out, struct px_error *err)
{
    if (fault_now(st))
        return fault_error(err);
    return st->ops->exec(st->conn, sql, params, n, changes_out, err);
}

int px_store_query(struct px_store *st, const char *sql, const struct px_val *params, size_t n,
                   struct px_rows **out, struct px_error *err)
{
    void *cursor = NULL;
    *out = NULL;
    if (fault_now(st))
        return fault_error(err);
    int rc = st->ops->query(st->conn, sql, params, n, &cursor, err);
    if (rc)
        return rc;
    struct px_rows *rows = px_xmalloc(sizeof(*rows));
    rows->ops = st->ops;
    rows->cursor = cursor;
    *out = rows;
    return 0;
}

int px_rows_next(struct px_rows *rows, struct px_error *err)
{
    return rows->ops->next(rows->cursor, err);
}

int64_t px_rows_int(struct px_rows *rows, int col)
{
    return rows->ops->col_int(rows->cursor, col);
}

const char *px_rows_text(struct px_rows *rows, int col)
{
    return rows->ops->col_text(rows->cursor, col);
}

bool px_rows_is_null(struct px_rows *rows, int col)
{
    return rows->ops->col_is_null(rows->cursor, col);
}

void px_rows_free(struct px_rows *rows)
{
    if (!rows)
        return;
    rows->ops->cursor_free(rows->cursor);
    free(rows);
}

int px_store_query_int(struct px_store *st, const char *sql, const struct px_val *params, size_t n,
                       int64_t *out, struct px_error *err)
{
    struct px_rows *rows;
    int rc = px_store_query(st, sql, params, n, &rows, err);
    if (rc)
        return rc;
    rc = px_rows_next(rows, err);
    if (rc == 1)
        *out = px_rows_int(rows, 0);
    px_rows_free(rows);
    return rc;
}

int px_store_schema_version(struct px_store *st)
{
    int64_t v = 0;
    if (px_store_query_int(st, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0,
                           &v, NULL) != 1)
        return 0;
    return (int)v;
}

int px_store_migrate(struct px_store *st, int *applied_out, struct px_error *err)
{
    int applied = 0;
    int rc = st->ops->exec_script(st->conn,
                                  "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                  " version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                                  " applied_at BIGINT NOT NULL)",
                                  err);
    if (rc)
        return rc;
    int current = px_store_schema_version(st);
    for (size_t i = 0; i < *st->ops->migration_count; i++) {
        const struct px_embed *m = &st->ops->migrations[i];
        int version = (int)strtol(m->name, NULL, 10);
        if (version <= 0) {
            return px_error_set(err, PX_EINTERNAL, "migration file '%s' has no version number",
                                m->name);
        }
        if (version <= current)
            continue;
        if ((rc = px_store_begin(st, err)))
            return rc;
        rc = st->ops->exec_script(st->conn, m->data, err);
        if (!rc)
            rc = px_store_exec(
                st, "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                PX_PARAMS(PX_V_INT(version), PX_V_TEXT(m->name), PX_V_INT(px_now_ms())), 3, NULL,
                err);
        if (rc) {
            px_store_rollback(st);
            px_logerr("migration %s failed: %s", m->name, err ? err->message : "");
            return rc;
        }
        if ((rc = px_store_commit(st, err)))
            return rc;
        px_info("store: applied migration %s", m->name);
        applied++;
    }
    if (applied_out)
        *applied_out = applied;
    return 0;
}

/* ---- pool ------------------------------------------------------------------------------- */

struct px_store_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int size, nfree, opening;    /* handles open, free, being opened */
    struct px_store **all;       /* PX_STORE_POOL_MAX slots */
    struct px_store **free_list; /* nfree handles not checked out */
    char *url;
};

int px_store_pool_open(const char *url, int size, struct px_store_pool **out, struct px_error *err)
{
    *out = NULL;
    if (size < 1)
        size = 1;
    if (size > PX_STORE_POOL_MAX)
        size = PX_STORE_POOL_MAX;
    struct px_store_pool *pool = px_xcalloc(1, sizeof(*pool));
    pool->all = px_xcalloc(PX_STORE_POOL_MAX, sizeof(*pool->all));
    pool->free_list = px_xcalloc(PX_STORE_POOL_MAX, sizeof(*pool->free_list));
    pool->url = px_xstrdup(url);
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->cond, NULL);
    for (int i = 0; i < size; i++) {
        int rc = px_store_open(url, &pool->all[i], err);
        if (rc) {
            px_store_pool_close(pool);
            return rc;
        }
        pool->size++;
        pool->free_list[pool->nfree++] = pool->all[i];
    }
    *out = pool;
    return 0;
}

void px_store_pool_close(struct px_store_pool *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->size; i++)
        px_store_close(pool->all[i]);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->cond);
    free(pool->all);
    free(pool->free_list);
    free(pool->url);
    free(pool);
}

struct px_store *px_store_pool_acquire(struct px_store_pool *pool)
{
    pthread_mutex_lock(&pool->lock);
    while (pool->nfree == 0) {
        if (pool->size + pool->opening < PX_STORE_POOL_MAX) {
            /* All checked out (calls waiting on runs hold theirs): open one more, outside the
             * lock. A failure just falls back to waiting. */
            pool->opening++;
            pthread_mutex_unlock(&pool->lock);
            struct px_store *st = NULL;
            struct px_error err;
            int rc = px_store_open(pool->url, &st, &err);
            pthread_mutex_lock(&pool->lock);
            pool->opening--;
            if (rc == 0) {
                pool->all[pool->size++] = st;
                pthread_mutex_unlock(&pool->lock);
                return st;
            }
            px_warn("store pool: cannot open another handle: %s", err.message);
        }
        pthread_cond_wait(&pool->cond, &pool->lock);
    }
    struct px_store *st = pool->free_list[--pool->nfree];
    pthread_mutex_unlock(&pool->lock);
    return st;
}

void px_store_pool_release(struct px_store_pool *pool, struct px_store *st)
{
    if (!st)
        return;
    pthread_mutex_lock(&pool->lock);
    pool->free_list[pool->nfree++] = st;
    pthread_cond_signal(&pool->cond);
    pthread_mutex_unlock(&pool->lock);
}
