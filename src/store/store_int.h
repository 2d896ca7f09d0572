/*
 * The backend interface behind store.h: each backend (store_sqlite.c, later store_pg.c)
 * fills one const struct px_store_ops, and store.c's backend table names the URL schemes that
 * choose it. The front end (store.c) owns what is the same for every backend: the choice by
 * URL, transaction nesting, migrations and the pool; a backend owns its connection, its SQL
 * dialect (placeholders, its own BEGIN/COMMIT/ROLLBACK) and its error mapping (a unique
 * violation is -PX_ECONFLICT, any other failure -PX_ESTORE). Only store/ includes this header.
 */
#ifndef PX_STORE_STORE_INT_H
#define PX_STORE_STORE_INT_H

#include "store/store.h"

struct px_store_ops {
    const char *name;
    int (*open)(const char *url, void **conn_out, struct px_error *err);
    void (*close)(void *conn);
    int (*exec_script)(void *conn, const char *sql, struct px_error *err);
    /* The outermost transaction (store.c counts the nesting): begin takes the write lock at
     * once where the backend has one (SQLite: BEGIN IMMEDIATE), so a transaction that reads
     * then writes cannot fail half-way on a lock upgrade. rollback must be safe after a failed
     * commit. */
    int (*begin)(void *conn, struct px_error *err);
    int (*commit)(void *conn, struct px_error *err);
    void (*rollback)(void *conn);
    int (*exec)(void *conn, const char *sql, const struct px_val *params, size_t n,
                int64_t *changes_out, struct px_error *err);
    int (*query)(void *conn, const char *sql, const struct px_val *params, size_t n,
                 void **cursor_out, struct px_error *err);
    int (*next)(void *cursor, struct px_error *err);
    int64_t (*col_int)(void *cursor, int col);
    const char *(*col_text)(void *cursor, int col);
    bool (*col_is_null)(void *cursor, int col);
    void (*cursor_free)(void *cursor);
    int64_t (*data_version)(void *conn); /* may be NULL: unknown */
    const struct px_embed *migrations;   /* sorted "NNNN_name.sql" files */
    const size_t *migration_count;
};

extern const struct px_store_ops px_store_sqlite_ops;

/* One row of the backend table: a URL scheme ("postgres://"), the database's name for people
 * and the backend it picks. ops is NULL for a scheme this build knows but has no backend for
 * (px_store_open then says so). */
struct px_store_backend {
    const char *scheme;
    const char *label;
    const struct px_store_ops *ops;
};
/* The table, ending with the default row (scheme NULL: a URL with no known scheme, such as a
 * file path, which is SQLite's). */
extern const struct px_store_backend px_store_backends[];
/* The row for url: the first whose scheme prefixes it, else the default row. */
const struct px_store_backend *px_store_backend_for(const char *url);

#endif
