/*
 * Private helpers shared by the MySQL/MariaDB connector's files: engine/connectors/mysql.c
 * (connections, error mapping, probe), engine/connectors/mysql_src.c (source) and
 * engine/connectors/mysql_dest.c (destination).
 */
#ifndef PX_ENGINE_CONN_MYSQL_INT_H
#define PX_ENGINE_CONN_MYSQL_INT_H

#include "engine/connectors/mysql_api.h"
#include <stdint.h>

struct px_batch;
struct px_buf;
struct px_error;
struct px_node_ctx;
struct json_object;

/* Connect deadline and read/write timeouts of the connections of a run (sources and
 * destinations); a read waits that long for a slow query's first row. */
#define PX_MY_RUN_CONNECT_MS 15000
#define PX_MY_RUN_IO_S 3600

/* Where a connection goes, for messages (borrowed from the params; never the password). */
struct px_my_target {
    const char *host;
    unsigned port;
    const char *user;
    const char *database;
};

/* Opens a connection with the node's params: utf8mb4, session time_zone '+00:00', a strict
 * sql_mode, TLS per sslmode. The connect (handshake and session set-up included) never takes
 * longer than connect_ms; later reads and writes time out after io_s seconds. */
int px__mysql_connect(struct json_object *params, int connect_ms, unsigned io_s, MYSQL **out,
                      struct px_my_target *target, struct px_error *err);
/* Fills err from the connection's last error (code, retryable, hint); returns -code. */
int px__mysql_fail(MYSQL *m, const struct px_my_target *t, struct px_error *err);
/* Runs one statement that returns no rows; 0 or px__mysql_fail. */
int px__mysql_exec(MYSQL *m, const struct px_my_target *t, const char *sql, size_t len,
                   struct px_error *err);
/* Appends `name` with backticks doubled. */
void px__mysql_quote_ident(struct px_buf *b, const char *name);
/* Appends a table reference: "t" → `t`, "db.t" → `db`.`t` (split at the first dot). */
void px__mysql_quote_table(struct px_buf *b, const char *table);

/* The source callbacks (engine/connectors/mysql_src.c). */
int px__mysql_src_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__mysql_src_next(void *state, struct px_batch **out, struct px_error *err);
void px__mysql_src_close(void *state);

/* The destination callbacks (engine/connectors/mysql_dest.c). */
int px__mysql_dest_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__mysql_dest_write(void *state, const struct px_batch *b, struct px_error *err);
int px__mysql_dest_commit(void *state, struct px_error *err);
void px__mysql_dest_close(void *state);

#endif
