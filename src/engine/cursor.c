/* Incremental source cursors: see cursor.h. */
#include "engine/cursor.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/expr/expr.h"
#include "engine/pushdown.h"

#include <stdlib.h>
#include <string.h>

static const char *type_word(enum px_col_type t)
{
    switch (t) {
    case PX_COL_INT:
        return "int";
    case PX_COL_FLOAT:
        return "float";
    case PX_COL_TIMESTAMP:
        return "timestamp";
    case PX_COL_STRING:
        return "string";
    default:
        return NULL;
    }
}

void px_cursor_init(struct px_cursor *c, const char *column, struct json_object *position)
{
    memset(c, 0, sizeof(*c));
    c->column = px_xstrdup(column);
    const char *col = px_json_get_str(position, "column");
    const char *type = px_json_get_str(position, "type");
    struct json_object *v = px_json_get(position, "value");
    if (!col || strcmp(col, column) != 0 || !type || !v)
        return;
    if (strcmp(type, "int") == 0 || strcmp(type, "timestamp") == 0) {
        c->type = type[0] == 'i' ? PX_COL_INT : PX_COL_TIMESTAMP;
        c->last_i = json_object_get_int64(v);
    } else if (strcmp(type, "float") == 0) {
        c->type = PX_COL_FLOAT;
        c->last_f = json_object_get_double(v);
    } else if (strcmp(type, "string") == 0 && json_object_is_type(v, json_type_string)) {
        c->type = PX_COL_STRING;
        c->last_s = px_xstrdup(json_object_get_string(v));
    } else {
        return;
    }
    c->has_last = true;
}

void px_cursor_cleanup(struct px_cursor *c)
{
    free(c->column);
    free(c->last_s);
    free(c->max_s);
    memset(c, 0, sizeof(*c));
}

char *px_cursor_where(const struct px_cursor *c, enum px_sql_dialect d)
{
    if (!c->has_last || d == PX_SQL_NONE)
        return NULL;
    struct px_value v = {0};
    switch (c->type) {
    case PX_COL_INT:
        v.type = PX_VAL_INT;
        v.i = c->last_i;
        break;
    case PX_COL_TIMESTAMP:
        v.type = PX_VAL_TIMESTAMP;
        v.i = c->last_i;
        break;
    case PX_COL_FLOAT:
        v.type = PX_VAL_FLOAT;
        v.f = c->last_f;
        break;
    default:
        return NULL; /* strings: collations order them differently from bytes */
    }
    struct px_buf b;
    px_buf_init(&b, 4096);
    char *out = NULL;
    if (px_push_render_cmp(&b, d, c->column, ">", &v))
        out = px_buf_take(&b);
    px_buf_cleanup(&b);
    return out;
}

/* Compares cell (col, row) of b with the cursor's value of kind which (last or max). */
static int cmp_cell(const struct px_cursor *c, const struct px_column *col, int64_t row, bool last)
{
    switch (c->type) {
    case PX_COL_FLOAT: {
        double a = col->v.f[row], b = last ? c->last_f : c->max_f;
        return a < b ? -1 : a > b;
    }
    case PX_COL_STRING:
        return strcmp(col->v.s[row], last ? c->last_s : c->max_s);
    default: {
        int64_t a = col->v.i[row], b = last ? c->last_i : c->max_i;
        return a < b ? -1 : a > b;
    }
    }
}

int px_cursor_apply(struct px_cursor *c, struct px_batch *b, struct px_error *err)
{
    int ci = px_batch_find(b, c->column);
    if (ci < 0) {
        int rc = px_error_set(err, PX_EINVALID,
                              "cursor_column '%s' is not a column of the source's rows", c->column);
        px_error_hint(err, "name a column the source reads (and that only grows, such as "
                           "updated_at or an id)");
        return rc;
    }
    struct px_column *col = &b->cols[ci];
    if (col->type == PX_COL_BOOL) {
        int rc = px_error_set(err, PX_EINVALID,
                              "cursor_column '%s' is boolean; a cursor needs a growing number, "
                              "timestamp or text",
                              c->column);
        px_error_hint(err, "use a column such as updated_at or an increasing id");
        return rc;
    }
    if ((c->has_last || c->has_max) && col->type != c->type) {
        int rc = px_error_set(err, PX_EINVALID,
                              "cursor_column '%s' is now %s but the stored position is %s",
                              c->column, px_col_type_name(col->type), type_word(c->type));
        px_error_hint(err, "restore the column's type, or rename the cursor column in the "
                           "config to start over");
        return rc;
    }
    c->type = col->type;
    bool *keep = NULL;
    int64_t dropped = 0;
    if (c->has_last)
        keep = px_xcalloc((size_t)(b->nrows ? b->nrows : 1), sizeof(*keep));
    for (int64_t r = 0; r < b->nrows; r++) {
        bool null = px_batch_is_null(col, r);
        bool k = !c->has_last || (!null && cmp_cell(c, col, r, true) > 0);
        if (keep) {
            keep[r] = k;
            dropped += !k;
        }
        if (!k || null)
            continue;
        if (!c->has_max || cmp_cell(c, col, r, false) > 0) {
            if (c->type == PX_COL_FLOAT) {
                c->max_f = col->v.f[r];
            } else if (c->type == PX_COL_STRING) {
                free(c->max_s);
                c->max_s = px_xstrdup(col->v.s[r]);
            } else {
                c->max_i = col->v.i[r];
            }
            c->has_max = true;
        }
    }
    if (keep && dropped)
        px_batch_compact(b, keep);
    free(keep);
    return 0;
}

struct json_object *px_cursor_position(const struct px_cursor *c)
{
    if (!c->has_max && !c->has_last)
        return NULL;
    bool use_max = c->has_max;
    struct json_object *o = json_object_new_object();
    px_json_set_str(o, "column", c->column);
    px_json_set_str(o, "type", type_word(c->type));
    switch (c->type) {
    case PX_COL_FLOAT:
        px_json_set(o, "value", json_object_new_double(use_max ? c->max_f : c->last_f));
        break;
    case PX_COL_STRING:
        px_json_set_str(o, "value", use_max ? c->max_s : c->last_s);
        break;
    default:
        px_json_set_int(o, "value", use_max ? c->max_i : c->last_i);
        break;
    }
    return o;
}
