/*
 * Streaming operators over batches (exec_int.h): filter, derive, select, drop, rename, limit
 * and dedupe (keep first; keep last and order_by hand over to ops_block.c). Each edits the
 * batch in place.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- expression rows ---- */

struct rowctx {
    const struct px_batch *b;
    int64_t row;
};

static int row_lookup(void *ctx, const char *column, struct px_value *out)
{
    struct rowctx *r = ctx;
    int c = px_batch_find(r->b, column);
    if (c < 0)
        return -PX_ENOTFOUND;
    px_batch_get(r->b, c, r->row, out);
    return 0;
}

struct exprop {
    struct px_expr *expr;
    char *column; /* derive */
    int64_t now_us;
    bool typed; /* derive: the output type is fixed */
    enum px_col_type type;
};

static int expr_open(const struct px_node_ctx *ctx, const char *prop, void **state_out,
                     struct px_error *err)
{
    struct exprop *s = px_xcalloc(1, sizeof(*s));
    int rc = px_expr_parse(px_json_get_str(ctx->config, prop), &s->expr, err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    const char *col = px_json_get_str(ctx->config, "column");
    s->column = col ? px_xstrdup(col) : NULL;
    s->now_us = ctx->opts->now_us;
    *state_out = s;
    return 0;
}

static void expr_close(void *state)
{
    struct exprop *s = state;
    if (!s)
        return;
    px_expr_free(s->expr);
    free(s->column);
    free(s);
}

int px__row_error(const struct px_batch *b, int64_t row, struct px_error *err)
{
    char msg[sizeof(err->message)];
    snprintf(msg, sizeof(msg), "row %lld: %.480s", (long long)(b->first_row + row), err->message);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    return -PX_EINVALID;
}

static int filter_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return expr_open(ctx, "condition", state_out, err);
}

static int filter_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct exprop *s = state;
    bool *keep = px_xcalloc((size_t)b->nrows + 1, sizeof(bool));
    int rc = 0;
    for (int64_t r = 0; r < b->nrows; r++) {
        struct rowctx rc_ = {b, r};
        struct px_value v;
        rc = px_expr_eval(s->expr, row_lookup, &rc_, s->now_us, &v, err);
        if (rc < 0) {
            rc = px__row_error(b, r, err);
            break;
        }
        if (v.type != PX_VAL_BOOL && v.type != PX_VAL_NULL) {
            px_value_clear(&v);
            px_error_set(err, PX_EINVALID, "the condition is not a boolean");
            rc = px__row_error(b, r, err);
            break;
        }
        keep[r] = v.type == PX_VAL_BOOL && v.b;
    }
    if (rc == 0)
        px_batch_compact(b, keep);
    free(keep);
    return rc;
}

static int derive_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return expr_open(ctx, "expression", state_out, err);
}

static enum px_col_type col_type_of(enum px_value_type t)
{
    switch (t) {
    case PX_VAL_INT:
        return PX_COL_INT;
    case PX_VAL_FLOAT:
        return PX_COL_FLOAT;
    case PX_VAL_BOOL:
        return PX_COL_BOOL;
    case PX_VAL_TIMESTAMP:
        return PX_COL_TIMESTAMP;
    default:
        return PX_COL_STRING;
    }
}

static int derive_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct exprop *s = state;
    struct px_value *vals = px_xcalloc((size_t)b->nrows + 1, sizeof(*vals));
    int rc = 0;
    int64_t done = 0;
    for (; done < b->nrows; done++) {
        struct rowctx rc_ = {b, done};
        rc = px_expr_eval(s->expr, row_lookup, &rc_, s->now_us, &vals[done], err);
        if (rc < 0) {
            rc = px__row_error(b, done, err);
            break;
        }
        if (vals[done].type == PX_VAL_INTERVAL) {
            px_error_set(err, PX_EINVALID, "an interval cannot be stored in a column");
            rc = px__row_error(b, done, err);
            break;
        }
    }
    if (rc == 0 && !s->typed) {
        bool any_float = false;
        for (int64_t r = 0; r < b->nrows; r++)
            if (vals[r].type != PX_VAL_NULL) {
                if (!s->typed)
                    s->type = col_type_of(vals[r].type);
                s->typed = true;
                any_float |= vals[r].type == PX_VAL_FLOAT;
            }
        if (s->typed && s->type == PX_COL_INT && any_float)
            s->type = PX_COL_FLOAT;
        if (!s->typed)
            s->type = PX_COL_STRING; /* all NULL so far */
    }
    if (rc == 0) {
        /* Build the new column at the end, then move it into the old one's place. */
        int old = px_batch_find(b, s->column);
        int c = px_batch_add_column(b, s->column, s->type);
        for (int64_t r = 0; r < b->nrows && rc == 0; r++) {
            rc = px_batch_set(b, c, r, &vals[r], err);
            if (rc < 0)
                rc = px__row_error(b, r, err);
        }
        if (rc == 0 && old >= 0) {
            struct px_column tmp = b->cols[c];
            b->cols[c] = b->cols[old];
            b->cols[old] = tmp;
            px_batch_remove_column(b, c);
        }
    }
    for (int64_t r = 0; r < done; r++)
        px_value_clear(&vals[r]);
    free(vals);
    return rc;
}

/* ---- column shaping ---- */

struct colop {
    struct json_object *config; /* borrowed for the run */
};

static int colop_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct colop *s = px_xcalloc(1, sizeof(*s));
    s->config = ctx->config;
    *state_out = s;
    return 0;
}

static void colop_close(void *state)
{
    free(state);
}

int px__no_column(const struct px_batch *b, const char *name, struct px_error *err)
{
    struct px_buf names;
    px_buf_init(&names, 400);
    for (int i = 0; i < b->ncols; i++)
        if (px_buf_printf(&names, "%s%s", i ? ", " : "", b->cols[i].name) < 0)
            break;
    px_error_set(err, PX_EINVALID, "column '%s' not found (columns: %s)", name,
                 names.data ? names.data : "none");
    px_buf_cleanup(&names);
    return -PX_EINVALID;
}

static int select_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *cols = px_json_get(s->config, "columns");
    size_t n = json_object_array_length(cols);
    /* Check first, then reorder: wanted columns move to the front in order. */
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        int i = px_batch_find(b, name);
        if ((size_t)i != k) {
            struct px_column tmp = b->cols[i];
            memmove(&b->cols[k + 1], &b->cols[k], (size_t)(i - (int)k) * sizeof(*b->cols));
            b->cols[k] = tmp;
        }
    }
    while ((size_t)b->ncols > n)
        px_batch_remove_column(b, b->ncols - 1);
    return 0;
}

static int drop_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *cols = px_json_get(s->config, "columns");
    size_t n = json_object_array_length(cols);
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(cols, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    for (size_t k = 0; k < n; k++)
        px_batch_remove_column(
            b, px_batch_find(b, json_object_get_string(json_object_array_get_idx(cols, k))));
    return 0;
}

static int rename_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct colop *s = state;
    struct json_object *map = px_json_get(s->config, "mapping");
    int *idx = px_xcalloc((size_t)json_object_object_length(map) + 1, sizeof(int));
    int k = 0, rc = 0;
    json_object_object_foreach(map, from, to)
    {
        (void)to;
        idx[k] = px_batch_find(b, from);
        if (idx[k] < 0) {
            rc = px__no_column(b, from, err);
            goto out;
        }
        k++;
    }
    k = 0;
    json_object_object_foreach(map, from2, to2)
    {
        (void)from2;
        free(b->cols[idx[k]].name);
        b->cols[idx[k]].name = px_xstrdup(json_object_get_string(to2));
        k++;
    }
    for (int i = 0; i < b->ncols; i++)
        for (int j = i + 1; j < b->ncols; j++)
            if (strcmp(b->cols[i].name, b->cols[j].name) == 0) {
                rc = px_error_set(err, PX_EINVALID,
                                  "renaming makes two columns named '%s'; drop one first",
                                  b->cols[i].name);
                goto out;
            }
out:
    free(idx);
    return rc;
}

struct limitop {
    int64_t left;
};

static int limit_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    (void)err;
    struct limitop *s = px_xcalloc(1, sizeof(*s));
    s->left = px_json_get_int(ctx->config, "count", 0);
    *state_out = s;
    return 0;
}

static int limit_process(void *state, struct px_batch *b, struct px_error *err)
{
    (void)err;
    struct limitop *s = state;
    if (b->nrows > s->left) {
        bool *keep = px_xcalloc((size_t)b->nrows, sizeof(bool));
        for (int64_t r = 0; r < s->left; r++)
            keep[r] = true;
        px_batch_compact(b, keep);
        free(keep);
    }
    s->left -= b->nrows;
    return 0;
}

/* ---- dedupe: an open-addressing set of encoded keys ---- */

struct dedupeop {
    char **keys; /* NULL = empty slot */
    size_t cap, count;
    struct json_object *columns;
    size_t max_keys; /* memory bound */
    void *last;      /* keep last / order_by: the blocking variant in ops_block.c */
};

#define DEDUPE_MAX_KEYS 50000000

static int dedupe_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *keep = px_json_get_str(ctx->config, "keep");
    struct dedupeop *s = px_xcalloc(1, sizeof(*s));
    if ((keep && strcmp(keep, "first") != 0) || px_json_get(ctx->config, "order_by")) {
        int rc = px__dedupe_last_open(ctx, &s->last, err);
        if (rc < 0) {
            free(s);
            return rc;
        }
        *state_out = s;
        return 0;
    }
    s->columns = px_json_get(ctx->config, "keys");
    s->cap = 1024;
    s->keys = px_xcalloc(s->cap, sizeof(char *));
    s->max_keys = DEDUPE_MAX_KEYS;
    *state_out = s;
    return 0;
}

static void dedupe_close(void *state)
{
    struct dedupeop *s = state;
    if (!s)
        return;
    px__dedupe_last_close(s->last);
    for (size_t i = 0; i < s->cap; i++)
        free(s->keys[i]);
    free(s->keys);
    free(s);
}

static uint64_t hash(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Keys are stored as a 4-byte length followed by the encoded bytes. */
static bool set_insert(struct dedupeop *s, const char *key, size_t len)
{
    if ((s->count + 1) * 2 > s->cap) {
        size_t ncap = s->cap * 2;
        char **nk = px_xcalloc(ncap, sizeof(char *));
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->keys[i])
                continue;
            uint32_t l;
            memcpy(&l, s->keys[i], 4);
            size_t j = hash(s->keys[i] + 4, l) & (ncap - 1);
            while (nk[j])
                j = (j + 1) & (ncap - 1);
            nk[j] = s->keys[i];
        }
        free(s->keys);
        s->keys = nk;
        s->cap = ncap;
    }
    size_t j = hash(key, len) & (s->cap - 1);
    while (s->keys[j]) {
        uint32_t l;
        memcpy(&l, s->keys[j], 4);
        if (l == len && memcmp(s->keys[j] + 4, key, len) == 0)
            return false;
        j = (j + 1) & (s->cap - 1);
    }
    char *k = px_xmalloc(len + 4);
    uint32_t l = (uint32_t)len;
    memcpy(k, &l, 4);
    memcpy(k + 4, key, len);
    s->keys[j] = k;
    s->count++;
    return true;
}

static int dedupe_finish(void *state, struct px_batch **out, struct px_error *err)
{
    struct dedupeop *s = state;
    *out = NULL;
    return s->last ? px__dedupe_last_finish(s->last, out, err) : 0;
}

static int dedupe_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct dedupeop *s = state;
    if (s->last)
        return px__dedupe_last_process(s->last, b, err);
    size_t nk = json_object_array_length(s->columns);
    int *idx = px_xcalloc(nk, sizeof(int));
    int rc = 0;
    for (size_t k = 0; k < nk; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->columns, k));
        idx[k] = px_batch_find(b, name);
        if (idx[k] < 0) {
            rc = px__no_column(b, name, err);
            free(idx);
            return rc;
        }
    }
    bool *keep = px_xcalloc((size_t)b->nrows + 1, sizeof(bool));
    struct px_buf key;
    px_buf_init(&key, 1 << 20);
    for (int64_t r = 0; r < b->nrows && rc == 0; r++) {
        px_buf_reset(&key);
        rc = px_batch_row_key(b, idx, nk, r, &key);
        if (rc < 0) {
            rc = px_error_set(err, PX_ETOOLARGE, "row %lld: the dedupe key is over 1 MiB",
                              (long long)(b->first_row + r));
            break;
        }
        if (s->count >= s->max_keys) {
            rc = px_error_set(err, PX_ETOOLARGE, "more than %zu distinct keys", s->max_keys);
            break;
        }
        keep[r] = set_insert(s, key.data ? key.data : "", key.len);
    }
    px_buf_cleanup(&key);
    if (rc == 0)
        px_batch_compact(b, keep);
    free(keep);
    free(idx);
    return rc;
}

const struct px_operator px__op_filter = {
    1,          "filter", "Keeps rows where a condition is true", filter_open, filter_process,
    expr_close, NULL};
const struct px_operator px__op_derive = {
    1,          "derive", "Adds or replaces a computed column", derive_open, derive_process,
    expr_close, NULL};
const struct px_operator px__op_select = {
    1,           "select", "Keeps the listed columns, in order", colop_open, select_process,
    colop_close, NULL};
const struct px_operator px__op_drop = {
    1, "drop", "Removes the listed columns", colop_open, drop_process, colop_close, NULL};
const struct px_operator px__op_rename = {
    1, "rename", "Renames columns", colop_open, rename_process, colop_close, NULL};
const struct px_operator px__op_limit = {
    1, "limit", "Passes on the first count rows", limit_open, limit_process, colop_close, NULL};
const struct px_operator px__op_dedupe = {1,
                                          "dedupe",
                                          "Keeps the first row per key",
                                          dedupe_open,
                                          dedupe_process,
                                          dedupe_close,
                                          dedupe_finish};
