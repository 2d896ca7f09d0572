/*
 * Typed columnar batches (batch.h): column arrays sized once at creation, a null bitmap per
 * column and a block arena for strings.
 */
#include "engine/batch.h"

#include "base/buf.h"
#include "engine/budget.h"
#include "base/err.h"
#include "base/mem.h"
#include "engine/expr/expr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 65536

struct px_arena_block {
    struct px_arena_block *next;
    size_t used, size;
    char data[];
};

const char *px_col_type_name(enum px_col_type t)
{
    switch (t) {
    case PX_COL_INT:
        return "integer";
    case PX_COL_FLOAT:
        return "float";
    case PX_COL_BOOL:
        return "boolean";
    case PX_COL_STRING:
        return "string";
    case PX_COL_TIMESTAMP:
        return "timestamp";
    }
    return "unknown";
}

static size_t elem_size(enum px_col_type t)
{
    switch (t) {
    case PX_COL_INT:
    case PX_COL_TIMESTAMP:
        return sizeof(int64_t);
    case PX_COL_FLOAT:
        return sizeof(double);
    case PX_COL_BOOL:
        return 1;
    case PX_COL_STRING:
        return sizeof(char *);
    }
    return 8;
}

struct px_batch *px_batch_create(int64_t cap)
{
    struct px_batch *b = px_xcalloc(1, sizeof(*b));
    b->cap = cap > 0 ? cap : PX_BATCH_DEFAULT_ROWS;
    b->first_row = 1;
    b->bytes = (int64_t)sizeof(*b);
    return b;
}

/* Bytes a column of type t allocates in a batch of cap rows (name aside). */
static int64_t column_bytes(int64_t cap, enum px_col_type t)
{
    return (cap + 7) / 8 + cap * (int64_t)elem_size(t);
}

void px_batch_account(struct px_batch *b, struct px_mem *m)
{
    if (!b->mem) {
        if (!m)
            return;
        b->mem = m;
    }
    int64_t d = b->bytes - b->charged;
    if (d) {
        px_mem_add(b->mem, d);
        b->charged = b->bytes;
    }
}

void px_batch_rehome(struct px_batch *b, struct px_mem *m)
{
    if (m && b->mem && b->mem != m) {
        px_mem_sub(b->mem, b->charged);
        b->charged = 0;
        b->mem = m;
    }
    px_batch_account(b, m);
}

int64_t px_batch_rows_for(int ncols, int64_t rows)
{
    int64_t per = ncols > 0 ? PX_BATCH_TARGET_BYTES / ((int64_t)ncols * 9) : rows;
    if (per < 64)
        per = 64;
    return rows < per ? rows : per;
}

static void column_cleanup(struct px_column *c)
{
    free(c->name);
    free(c->nulls);
    free((void *)c->v.i);
}

void px_batch_destroy(struct px_batch *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->ncols; i++)
        column_cleanup(&b->cols[i]);
    free(b->cols);
    struct px_arena_block *a = b->arena;
    while (a) {
        struct px_arena_block *next = a->next;
        free(a);
        a = next;
    }
    if (b->mem)
        px_mem_sub(b->mem, b->charged);
    free(b);
}

int px_batch_add_column(struct px_batch *b, const char *name, enum px_col_type type)
{
    if (b->ncols == b->cols_cap) {
        int ncap = b->cols_cap ? b->cols_cap * 2 : 8;
        b->bytes += (int64_t)(ncap - b->cols_cap) * (int64_t)sizeof(*b->cols);
        b->cols_cap = ncap;
        b->cols = px_xrealloc(b->cols, (size_t)b->cols_cap * sizeof(*b->cols));
    }
    struct px_column *c = &b->cols[b->ncols];
    memset(c, 0, sizeof(*c));
    c->name = px_xstrdup(name);
    c->type = type;
    size_t nb = ((size_t)b->cap + 7) / 8;
    c->nulls = px_xmalloc(nb);
    memset(c->nulls, 0xff, nb);
    c->v.i = px_xcalloc((size_t)b->cap, elem_size(type));
    b->bytes += column_bytes(b->cap, type) + (int64_t)strlen(name) + 1;
    return b->ncols++;
}

int px_batch_find(const struct px_batch *b, const char *name)
{
    for (int i = 0; i < b->ncols; i++)
        if (strcmp(b->cols[i].name, name) == 0)
            return i;
    return -1;
}

void px_batch_remove_column(struct px_batch *b, int i)
{
    b->bytes -= column_bytes(b->cap, b->cols[i].type) + (int64_t)strlen(b->cols[i].name) + 1;
    column_cleanup(&b->cols[i]);
    memmove(&b->cols[i], &b->cols[i + 1], (size_t)(b->ncols - i - 1) * sizeof(*b->cols));
    b->ncols--;
}

const char *px_batch_strdup(struct px_batch *b, const char *s, size_t len)
{
    struct px_arena_block *a = b->arena;
    if (!a || a->size - a->used < len + 1) {
        size_t size = len + 1 > ARENA_BLOCK ? len + 1 : ARENA_BLOCK;
        a = px_xmalloc(sizeof(*a) + size);
        a->size = size;
        a->used = 0;
        a->next = b->arena;
        b->arena = a;
        b->bytes += (int64_t)(sizeof(*a) + size);
        b->arena_bytes += (int64_t)(sizeof(*a) + size);
    }
    char *p = a->data + a->used;
    memcpy(p, s, len);
    p[len] = '\0';
    a->used += len + 1;
    return p;
}

void px_batch_set_null(struct px_column *c, int64_t row, bool null)
{
    if (null)
        c->nulls[row >> 3] |= (uint8_t)(1u << (row & 7));
    else
        c->nulls[row >> 3] &= (uint8_t) ~(1u << (row & 7));
}

struct px_batch *px_batch_clone(const struct px_batch *b)
{
    struct px_batch *c = px_batch_create(b->cap);
    c->first_row = b->first_row;
    for (int i = 0; i < b->ncols; i++) {
        const struct px_column *src = &b->cols[i];
        int k = px_batch_add_column(c, src->name, src->type);
        struct px_column *dst = &c->cols[k];
        memcpy(dst->nulls, src->nulls, ((size_t)b->cap + 7) / 8);
        if (src->type == PX_COL_STRING) {
            for (int64_t r = 0; r < b->nrows; r++)
                if (!px_batch_is_null(src, r))
                    dst->v.s[r] = px_batch_strdup(c, src->v.s[r], strlen(src->v.s[r]));
        } else {
            memcpy((void *)dst->v.i, src->v.i, (size_t)b->nrows * elem_size(src->type));
        }
    }
    c->nrows = b->nrows;
    return c;
}

void px_batch_get(const struct px_batch *b, int col, int64_t row, struct px_value *out)
{
    const struct px_column *c = &b->cols[col];
    memset(out, 0, sizeof(*out));
    if (px_batch_is_null(c, row)) {
        out->type = PX_VAL_NULL;
        return;
    }
    switch (c->type) {
    case PX_COL_INT:
        out->type = PX_VAL_INT;
        out->i = c->v.i[row];
        break;
    case PX_COL_TIMESTAMP:
        out->type = PX_VAL_TIMESTAMP;
        out->i = c->v.i[row];
        break;
    case PX_COL_FLOAT:
        out->type = PX_VAL_FLOAT;
        out->f = c->v.f[row];
        break;
    case PX_COL_BOOL:
        out->type = PX_VAL_BOOL;
        out->b = c->v.b[row] != 0;
        break;
    case PX_COL_STRING:
        out->type = PX_VAL_STRING;
        out->s = (char *)(uintptr_t)c->v.s[row];
        break;
    }
}

static const char *val_type_name(enum px_value_type t)
{
    switch (t) {
    case PX_VAL_NULL:
        return "null";
    case PX_VAL_BOOL:
        return "boolean";
    case PX_VAL_INT:
        return "integer";
    case PX_VAL_FLOAT:
        return "float";
    case PX_VAL_STRING:
        return "string";
    case PX_VAL_TIMESTAMP:
        return "timestamp";
    case PX_VAL_INTERVAL:
        return "interval";
    }
    return "unknown";
}

int px_batch_set(struct px_batch *b, int col, int64_t row, const struct px_value *v,
                 struct px_error *err)
{
    struct px_column *c = &b->cols[col];
    if (v->type == PX_VAL_NULL) {
        px_batch_set_null(c, row, true);
        return 0;
    }
    bool ok = false;
    switch (c->type) {
    case PX_COL_INT:
        if ((ok = v->type == PX_VAL_INT))
            c->v.i[row] = v->i;
        break;
    case PX_COL_TIMESTAMP:
        if ((ok = v->type == PX_VAL_TIMESTAMP))
            c->v.i[row] = v->i;
        else if (v->type == PX_VAL_STRING)
            ok = px_expr_parse_timestamp(v->s, &c->v.i[row]) == 0;
        break;
    case PX_COL_FLOAT:
        if (v->type == PX_VAL_FLOAT) {
            c->v.f[row] = v->f;
            ok = true;
        } else if (v->type == PX_VAL_INT) {
            c->v.f[row] = (double)v->i;
            ok = true;
        }
        break;
    case PX_COL_BOOL:
        if ((ok = v->type == PX_VAL_BOOL))
            c->v.b[row] = v->b;
        break;
    case PX_COL_STRING:
        if ((ok = v->type == PX_VAL_STRING))
            c->v.s[row] = px_batch_strdup(b, v->s, strlen(v->s));
        break;
    }
    if (!ok)
        return px_error_set(err, PX_EINVALID, "column '%s' is %s but a value is %s", c->name,
                            px_col_type_name(c->type), val_type_name(v->type));
    px_batch_set_null(c, row, false);
    return 0;
}

void px_batch_compact(struct px_batch *b, const bool *keep)
{
    /* Column by column: the values of the kept rows move up, the null bitmap is rebuilt, and
     * the rows past the new end become NULL. */
    int64_t first = 0;
    while (first < b->nrows && keep[first])
        first++;
    if (first == b->nrows)
        return;
    int64_t w = first;
    for (int i = 0; i < b->ncols; i++) {
        struct px_column *c = &b->cols[i];
        uint8_t *nulls = c->nulls;
        w = first;
        if (elem_size(c->type) == 8) { /* int64, double and pointers alike: 8-byte moves */
            char *v = (char *)(void *)c->v.i;
            for (int64_t r = first; r < b->nrows; r++) {
                if (!keep[r])
                    continue;
                memcpy(v + 8 * w, v + 8 * r, 8);
                uint8_t bit = (uint8_t)(1u << (w & 7));
                if ((nulls[r >> 3] >> (r & 7)) & 1)
                    nulls[w >> 3] |= bit;
                else
                    nulls[w >> 3] &= (uint8_t)~bit;
                w++;
            }
        } else {
            for (int64_t r = first; r < b->nrows; r++) {
                if (!keep[r])
                    continue;
                c->v.b[w] = c->v.b[r];
                px_batch_set_null(c, w, px_batch_is_null(c, r));
                w++;
            }
        }
        /* Rows w..nrows-1 become NULL: the partial byte bit by bit, then whole bytes. */
        int64_t r = w;
        for (; r < b->nrows && (r & 7); r++)
            px_batch_set_null(c, r, true);
        if (r < b->nrows)
            memset(c->nulls + (r >> 3), 0xff, (size_t)(((b->nrows + 7) >> 3) - (r >> 3)));
    }
    if (b->ncols == 0)
        for (int64_t r = first; r < b->nrows; r++)
            w += keep[r];
    b->nrows = w;
}

void px_batch_copy_cell(struct px_batch *dst, int dc, int64_t dr, const struct px_batch *src,
                        int sc, int64_t sr)
{
    struct px_column *d = &dst->cols[dc];
    const struct px_column *s = &src->cols[sc];
    if (px_batch_is_null(s, sr))
        return; /* new columns start NULL */
    switch (d->type) {
    case PX_COL_INT:
    case PX_COL_TIMESTAMP:
        d->v.i[dr] = s->v.i[sr];
        break;
    case PX_COL_FLOAT:
        d->v.f[dr] = s->type == PX_COL_INT ? (double)s->v.i[sr] : s->v.f[sr];
        break;
    case PX_COL_BOOL:
        d->v.b[dr] = s->v.b[sr];
        break;
    case PX_COL_STRING:
        d->v.s[dr] = px_batch_strdup(dst, s->v.s[sr], strlen(s->v.s[sr]));
        break;
    }
    px_batch_set_null(d, dr, false);
}

int px_batch_row_key(const struct px_batch *b, const int *cols, size_t n, int64_t row,
                     struct px_buf *key)
{
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const struct px_column *c = &b->cols[cols[k]];
        char tag = px_batch_is_null(c, row) ? 'N' : (char)('a' + c->type);
        rc = px_buf_append(key, &tag, 1);
        if (tag == 'N' || rc < 0)
            continue;
        switch (c->type) {
        case PX_COL_INT:
        case PX_COL_TIMESTAMP:
            rc = px_buf_append(key, &c->v.i[row], 8);
            break;
        case PX_COL_FLOAT:
            rc = px_buf_append(key, &c->v.f[row], 8);
            break;
        case PX_COL_BOOL:
            rc = px_buf_append(key, &c->v.b[row], 1);
            break;
        case PX_COL_STRING:
            rc = px_buf_append(key, c->v.s[row], strlen(c->v.s[row]) + 1);
            break;
        }
    }
    return rc < 0 ? rc : 0;
}

struct px_batch *px_batch_take(struct px_batch *b)
{
    struct px_batch *own = px_xcalloc(1, sizeof(*own));
    *own = *b;
    b->ncols = 0;
    b->cols = NULL;
    b->cols_cap = 0;
    b->arena = NULL;
    b->nrows = 0;
    b->bytes = (int64_t)sizeof(*b);
    b->arena_bytes = 0;
    b->charged = 0;
    return own;
}

static bool numeric(enum px_col_type t)
{
    return t == PX_COL_INT || t == PX_COL_FLOAT;
}

int px_batch_merge_schema(char ***names, enum px_col_type **types, int *ncols,
                          const struct px_batch *b, enum px_col_type *was)
{
    for (int i = 0; i < b->ncols; i++) {
        int k = 0;
        while (k < *ncols && strcmp((*names)[k], b->cols[i].name) != 0)
            k++;
        enum px_col_type t = b->cols[i].type;
        if (k == *ncols) {
            *names = px_xrealloc(*names, (size_t)(k + 1) * sizeof(char *));
            *types = px_xrealloc(*types, (size_t)(k + 1) * sizeof(**types));
            (*names)[k] = px_xstrdup(b->cols[i].name);
            (*types)[k] = t;
            (*ncols)++;
        } else if ((*types)[k] != t) {
            if (numeric((*types)[k]) && numeric(t)) {
                (*types)[k] = PX_COL_FLOAT;
            } else {
                *was = (*types)[k];
                return i;
            }
        }
    }
    return -1;
}

int px__row_error(const struct px_batch *b, int64_t row, struct px_error *err)
{
    char msg[sizeof(err->message)];
    snprintf(msg, sizeof(msg), "row %lld: %.480s", (long long)(b->first_row + row), err->message);
    snprintf(err->message, sizeof(err->message), "%s", msg);
    return -PX_EINVALID;
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

int px_batch_cmp_cells(const struct px_column *a, int64_t ra, const struct px_column *b, int64_t rb)
{
    bool na = px_batch_is_null(a, ra), nb = px_batch_is_null(b, rb);
    if (na || nb)
        return na == nb ? 0 : na ? -1 : 1;
    if (a->type == PX_COL_STRING)
        return strcmp(a->v.s[ra], b->v.s[rb]);
    if (a->type == PX_COL_FLOAT || b->type == PX_COL_FLOAT) {
        double x = a->type == PX_COL_FLOAT ? a->v.f[ra] : (double)a->v.i[ra];
        double y = b->type == PX_COL_FLOAT ? b->v.f[rb] : (double)b->v.i[rb];
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a->type == PX_COL_BOOL)
        return (int)a->v.b[ra] - (int)b->v.b[rb];
    return a->v.i[ra] < b->v.i[rb] ? -1 : a->v.i[ra] > b->v.i[rb] ? 1 : 0;
}

static void batch_swap_in(struct px_batch *b, int old, int neu)
{
    struct px_column tmp = b->cols[neu];
    b->cols[neu] = b->cols[old];
    b->cols[old] = tmp;
    px_batch_remove_column(b, neu);
}

void px_batch_settle_column(struct px_batch *b, int old, int neu, int rc)
{
    if (rc < 0)
        px_batch_remove_column(b, neu);
    else
        batch_swap_in(b, old, neu);
}
