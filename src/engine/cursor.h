/*
 * Incremental sources: a source node whose config names a cursor_column (a column that only
 * grows, such as updated_at or an id) reads, on each run, only the rows past the largest value
 * the last successful run saw. The executor keeps one cursor per such source: it asks the
 * database for `column > last` where the dialect allows (engine/pushdown.h), and drops the
 * rows at or below the last position itself in any case, then remembers the largest value it
 * handed on. The caller stores the new position only when the run succeeds, so a failed run
 * is read again in full next time.
 *
 * A position is JSON {"column": name, "type": "int|float|timestamp|string", "value": v}
 * (timestamps in µs since the epoch UTC). A position for another column (the config changed)
 * is ignored: the next run reads everything again.
 */
#ifndef PX_ENGINE_CURSOR_H
#define PX_ENGINE_CURSOR_H

#include "engine/batch.h"
#include "engine/exec_int.h"

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

struct px_error;

struct px_cursor {
    char *column; /* owned */
    bool has_last, has_max;
    enum px_col_type type; /* of last and max */
    int64_t last_i, max_i; /* INT, TIMESTAMP */
    double last_f, max_f;  /* FLOAT */
    char *last_s, *max_s;  /* STRING, owned */
};

/* Starts a cursor on column from position (may be NULL: the first run). */
void px_cursor_init(struct px_cursor *c, const char *column, struct json_object *position);
void px_cursor_cleanup(struct px_cursor *c);
/* `column > last` in dialect d, owned, or NULL when there is no last position or d cannot
 * compare its type the engine's way. */
char *px_cursor_where(const struct px_cursor *c, enum px_sql_dialect d);
/* Drops b's rows at or below the last position (and rows whose cursor value is NULL once a
 * position exists), and raises the maximum seen. -PX_EINVALID when b lacks the column or its
 * type changed since the stored position (with a hint to fix the config). */
int px_cursor_apply(struct px_cursor *c, struct px_batch *b, struct px_error *err);
/* The position to store after a successful run (owned), or NULL when there is none yet. */
struct json_object *px_cursor_position(const struct px_cursor *c);

#endif
