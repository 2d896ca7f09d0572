/*
 * Private to the file connectors: engine/connectors/csv.c (CSV source), engine/connectors/jsonl.c
 * (JSON Lines source) and engine/connectors/file.c (the path resolution, value formatting and the
 * file destinations they share).
 */
#ifndef PX_ENGINE_CONN_FILE_H
#define PX_ENGINE_CONN_FILE_H

#include <stdbool.h>

struct px_node_ctx;
struct px_batch;
struct px_error;

#define PX_FILE_MAX_LINE (1u << 20) /* bytes per CSV record or JSONL line */

/* The destinations (engine/connectors/file.c): CSV and JSON Lines writers behind one state. */
int px__csvdst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__jsonldst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err);
int px__filedst_write(void *state, const struct px_batch *b, struct px_error *err);
int px__filedst_commit(void *state, struct px_error *err);
void px__filedst_close(void *state);
/* Sources, before reading t: rolls back an append journal a dead writer left on it. */
struct px_file_target;
void px__filesrc_recover(const struct px_file_target *t);

#endif
