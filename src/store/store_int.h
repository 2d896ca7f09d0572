/*
 * The backend interface behind store.h: each backend (store_sqlite.c, later store_pg.c)
 * fills one const struct px_store_ops. Only store/ includes this header.
 */
#ifndef PX_STORE_STORE_INT_H
#define PX_STORE_STORE_INT_H

#include "store/store.h"

struct px_store_ops {
    const char *name;
    int (*open)(const char *url, void **conn_out, struct px_error *err);
    void (*close)(void *conn);
    int (*exec_script)(void *conn, const char *sql, struct px_error *err);
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

#endif
