/*
 * Pushdown into SQL sources: what the graph below a SQL source lets the source's own database
 * do, so fewer rows and columns cross the wire. Purely an optimization: the transforms still
 * run on what the source returns, so a predicate is pushed only when the database is sure to
 * keep every row the filter would keep (it may keep more: MySQL's case-insensitive `=` does).
 *
 *   WHERE   the simple predicates (engine/expr/expr.h px_expr_preds) of a filter directly below the
 * source, rendered in the source's dialect where the dialect compares that type the way the engine
 * does: numbers with any comparison; strings with = and IN (collations order strings differently
 * from bytes), and in PostgreSQL also <> as
 *           ("col")::text COLLATE "C" <> 'x' (the text the source reads, byte for byte);
 *           timestamps in PostgreSQL and MySQL only (SQLite keeps them as text in several
 *           formats); IS [NOT] NULL everywhere. The incremental cursor's `column > last value`
 *           joins them (engine/cursor.h).
 *   columns the columns the chain below the source uses, when that chain is a line of
 *           filter / dedupe / sort / limit nodes ending in a select.
 */
#ifndef PX_ENGINE_PUSHDOWN_H
#define PX_ENGINE_PUSHDOWN_H

#include "engine/exec_int.h"

#include <json-c/json.h>
#include <stdint.h>

struct px_value;

struct px_push {
    char *where; /* owned; NULL when nothing is pushed */
    char **cols; /* owned; NULL when every column may be needed */
    int ncols;
};

/* Plans the pushdown for source node_id of graph (validated) in dialect d; cursor_where (may
 * be NULL) is ANDed in. out is zeroed first; free with px_push_free. */
void px_push_plan(struct json_object *graph, const char *node_id, enum px_sql_dialect d,
                  int64_t now_us, const char *cursor_where, struct px_push *out);
void px_push_free(struct px_push *p);

/* Appends `quoted column op literal` for v in dialect d to out (a px_buf); false (out
 * unchanged) when d cannot compare v's type the engine's way for op. */
struct px_buf;
bool px_push_render_cmp(struct px_buf *out, enum px_sql_dialect d, const char *column,
                        const char *op, const struct px_value *v);

#endif
