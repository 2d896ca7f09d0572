/*
 * The control-plane store: one interface over SQLite (default) and, later, PostgreSQL.
 *
 * Callers (the domain services) speak a small portable SQL dialect with `?` placeholders and
 * typed parameters; a backend translates placeholders and runs the statement. Only store/
 * includes sqlite3.h or libpq-fe.h. Timestamps are integer milliseconds since the epoch;
 * JSON documents are TEXT. Migrations are numbered SQL files per backend, applied in order
 * on open (and by `planasonix-mcp migrate`), each in its own transaction.
 *
 * A store handle is used by one thread at a time; a pool (px_store_pool) hands handles to the
 * same database out to several threads.
 */
#ifndef PX_STORE_STORE_H
#define PX_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct px_error;
struct px_store;
struct px_rows;

enum px_sv_type { PX_SV_NULL, PX_SV_INT, PX_SV_TEXT };

/* A statement parameter. Text is borrowed for the duration of the call. */
struct px_val {
    enum px_sv_type type;
    int64_t i;
    const char *s;
};

#define PX_V_INT(v) ((struct px_val){.type = PX_SV_INT, .i = (int64_t)(v)})
#define PX_V_TEXT(v) px_val_text(v)
#define PX_V_NULL ((struct px_val){.type = PX_SV_NULL})
/* NULL when v <= 0 (unset timestamps), otherwise an integer. */
#define PX_V_TIME(v) ((v) > 0 ? PX_V_INT(v) : PX_V_NULL)
#define PX_PARAMS(...) ((const struct px_val[]){__VA_ARGS__})
#define PX_NPARAMS(...) (sizeof((const struct px_val[]){__VA_ARGS__}) / sizeof(struct px_val))

/* Opens the store named by url, the backend chosen by its scheme (store.c's backend table):
 * "postgres://…" (not yet available: a clear error), "sqlite://PATH" or a SQLite file path.
 * Applies pending migrations. Returns 0 and an owned handle (px_store_close). */
int px_store_open(const char *url, struct px_store **out, struct px_error *err);
void px_store_close(struct px_store *st);
/* Handles to one database, for servers running calls on several threads: a thread checks
 * one out for the duration of a request. `size` handles are opened at once (applying pending
 * migrations with the first); when all are checked out (calls waiting on runs hold theirs for
 * long), more are opened on demand, up to PX_STORE_POOL_MAX, and kept. SQLite's WAL mode lets
 * the handles read in parallel; writers serialize on the database's own lock (busy timeout). */
#define PX_STORE_POOL_MAX 96
struct px_store_pool;
int px_store_pool_open(const char *url, int size, struct px_store_pool **out, struct px_error *err);
void px_store_pool_close(struct px_store_pool *pool);
/* Checks a handle out, waiting while all are in use. */
struct px_store *px_store_pool_acquire(struct px_store_pool *pool);
void px_store_pool_release(struct px_store_pool *pool, struct px_store *st);

/* Applies pending migrations; *applied_out (may be NULL) gets how many ran. */
int px_store_migrate(struct px_store *st, int *applied_out, struct px_error *err);
/* The schema version (the highest migration applied). */
int px_store_schema_version(struct px_store *st);
/* A number that changes whenever another connection (another process) commits to the store,
 * for caches that must notice outside changes such as a key revoked from the command line;
 * -1 when the backend cannot tell (then do not cache). */
int64_t px_store_data_version(struct px_store *st);
/* "sqlite" or "postgres". */
const char *px_store_backend(const struct px_store *st);

/* Transactions nest by counting: only the outermost begin/commit reach the database, and a
 * rollback at any depth rolls the whole transaction back. */
int px_store_begin(struct px_store *st, struct px_error *err);
int px_store_commit(struct px_store *st, struct px_error *err);
void px_store_rollback(struct px_store *st);
/* Ends a transaction by its outcome: commits when rc is 0, else rolls back. Returns rc, or
 * the commit's error. */
int px_store_finish(struct px_store *st, int rc, struct px_error *err);

/* Runs a statement that returns no rows; *changes_out (may be NULL) gets the rows changed.
 * A unique-constraint violation returns -PX_ECONFLICT; other failures -PX_ESTORE. */
int px_store_exec(struct px_store *st, const char *sql, const struct px_val *params, size_t n,
                  int64_t *changes_out, struct px_error *err);
/* Runs a query; returns 0 and an owned cursor (px_rows_free) or a negative code. */
int px_store_query(struct px_store *st, const char *sql, const struct px_val *params, size_t n,
                   struct px_rows **out, struct px_error *err);
/* Advances to the next row: 1 = a row is ready, 0 = done, negative = error (err set). */
int px_rows_next(struct px_rows *rows, struct px_error *err);
/* Column accessors for the current row (0-based). Text is borrowed until the next
 * px_rows_next or px_rows_free; NULL for SQL NULL. */
int64_t px_rows_int(struct px_rows *rows, int col);
const char *px_rows_text(struct px_rows *rows, int col);
bool px_rows_is_null(struct px_rows *rows, int col);
void px_rows_free(struct px_rows *rows);

/* Convenience: runs a query expected to return at most one row and copies its first column
 * as an integer. Returns 1 if a row was found, 0 if none, negative on error. */
int px_store_query_int(struct px_store *st, const char *sql, const struct px_val *params, size_t n,
                       int64_t *out, struct px_error *err);

/* Test hook, inert unless a test calls it: from now on the n-th call on this handle that
 * reaches the database (px_store_exec, px_store_query, the outermost px_store_begin and
 * px_store_commit) fails with -PX_ESTORE, as a full disk or a lost connection would (a failed
 * commit rolls back); n = 0 turns it off. Returns how many such calls were made since the
 * previous px_store_inject_fault on the handle, so a test learns how many an operation makes. */
int64_t px_store_inject_fault(struct px_store *st, int64_t n);

static inline struct px_val px_val_text(const char *s)
{
    return (struct px_val){.type = s ? PX_SV_TEXT : PX_SV_NULL, .s = s};
}

#endif
