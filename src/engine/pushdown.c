/* Pushdown into SQL sources: see pushdown.h. */
#include "engine/pushdown.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/expr/expr.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHERE_MAX (64 * 1024)

static void quote_ident(struct px_buf *b, enum px_sql_dialect d, const char *name)
{
    char q = d == PX_SQL_MYSQL ? '`' : '"';
    (void)px_buf_append(b, &q, 1);
    for (const char *p = name; *p; p++) {
        if (*p == q)
            (void)px_buf_append(b, &q, 1);
        (void)px_buf_append(b, p, 1);
    }
    (void)px_buf_append(b, &q, 1);
}

/* A literal for v in d, or false when d would not compare it the engine's way under op. */
static bool literal(struct px_buf *b, enum px_sql_dialect d, const char *op,
                    const struct px_value *v)
{
    bool eq = strcmp(op, "=") == 0 || strcmp(op, "IN") == 0;
    switch (v->type) {
    case PX_VAL_INT:
        return px_buf_printf(b, "%" PRId64, v->i) == 0;
    case PX_VAL_FLOAT:
        return isfinite(v->f) && px_buf_printf(b, "%.17g", v->f) == 0;
    case PX_VAL_STRING:
        if (!eq)
            return false;
        /* PostgreSQL reads '\' literally only with standard_conforming_strings (the default
         * but a setting); MySQL escapes with it. Strings with one are not pushed. */
        if (strchr(v->s, '\\'))
            return false;
        (void)px_buf_puts(b, "'");
        for (const char *p = v->s; *p; p++) {
            if (*p == '\'')
                (void)px_buf_puts(b, "'");
            (void)px_buf_append(b, p, 1);
        }
        return px_buf_puts(b, "'") == 0;
    case PX_VAL_TIMESTAMP: {
        if (d == PX_SQL_SQLITE)
            return false;
        int64_t s = v->i >= 0 ? v->i / 1000000 : -((-v->i + 999999) / 1000000);
        int64_t us = v->i - s * 1000000;
        time_t t = (time_t)s;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
            return false;
        char text[40];
        strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
        if (d == PX_SQL_POSTGRES)
            return px_buf_printf(b, "'%s.%06" PRId64 "+00'::timestamptz", text, us) == 0;
        return px_buf_printf(b, "TIMESTAMP'%s.%06" PRId64 "'", text, us) == 0;
    }
    default:
        return false;
    }
}

bool px_push_render_cmp(struct px_buf *out, enum px_sql_dialect d, const char *column,
                        const char *op, const struct px_value *v)
{
    size_t mark = out->len;
    quote_ident(out, d, column);
    (void)px_buf_printf(out, " %s ", op);
    if (literal(out, d, op, v))
        return true;
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return false;
}

struct where_ctx {
    struct px_buf *b;
    enum px_sql_dialect d;
};

static void add_pred(void *ctx, const struct px_pred *p)
{
    struct where_ctx *w = ctx;
    static const char *const ops[] = {
        [PX_PRED_EQ] = "=",  [PX_PRED_NE] = "<>", [PX_PRED_LT] = "<",
        [PX_PRED_LE] = "<=", [PX_PRED_GT] = ">",  [PX_PRED_GE] = ">=",
    };
    struct px_buf one;
    px_buf_init(&one, WHERE_MAX);
    bool ok = true;
    if (p->op == PX_PRED_IS_NULL || p->op == PX_PRED_NOT_NULL) {
        quote_ident(&one, w->d, p->column);
        (void)px_buf_puts(&one, p->op == PX_PRED_IS_NULL ? " IS NULL" : " IS NOT NULL");
    } else if (p->op == PX_PRED_IN) {
        quote_ident(&one, w->d, p->column);
        (void)px_buf_puts(&one, " IN (");
        for (int k = 0; ok && k < p->nvals; k++) {
            if (k)
                (void)px_buf_puts(&one, ", ");
            ok = literal(&one, w->d, "IN", &p->vals[k]);
        }
        (void)px_buf_puts(&one, ")");
    } else if (p->op == PX_PRED_NE && p->vals[0].type == PX_VAL_STRING) {
        /* Exact in PostgreSQL only when compared as the text the source reads, byte by byte:
         * ("col")::text COLLATE "C" (a non-text column's text form differs from the engine's
         * view only towards keeping more rows). Elsewhere a case-insensitive or NOCASE
         * collation would drop rows the filter keeps. */
        ok = w->d == PX_SQL_POSTGRES && !strchr(p->vals[0].s, '\\');
        if (ok) {
            (void)px_buf_puts(&one, "(");
            quote_ident(&one, w->d, p->column);
            (void)px_buf_puts(&one, ")::text COLLATE \"C\" <> '");
            for (const char *c = p->vals[0].s; *c; c++) {
                if (*c == '\'')
                    (void)px_buf_puts(&one, "'");
                (void)px_buf_append(&one, c, 1);
            }
            (void)px_buf_puts(&one, "'");
        }
    } else {
        ok = px_push_render_cmp(&one, w->d, p->column, ops[p->op], &p->vals[0]);
    }
    if (ok && one.len) {
        if (w->b->len)
            (void)px_buf_puts(w->b, " AND ");
        (void)px_buf_printf(w->b, "(%s)", one.data);
    }
    px_buf_cleanup(&one);
}

/* ---- the chain below a source --------------------------------------------------------------- */

static struct json_object *node_by_id(struct json_object *graph, const char *id)
{
    struct json_object *nodes = px_json_get(graph, "nodes");
    size_t n = nodes ? json_object_array_length(nodes) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *x = json_object_array_get_idx(nodes, i);
        const char *xid = px_json_get_str(x, "id");
        if (xid && strcmp(xid, id) == 0)
            return x;
    }
    return NULL;
}

/* The only node fed by id when id feeds exactly one node that has no other input, else NULL. */
static struct json_object *only_child(struct json_object *graph, const char *id)
{
    struct json_object *edges = px_json_get(graph, "edges");
    size_t n = edges ? json_object_array_length(edges) : 0;
    const char *child = NULL;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(edges, i);
        const char *from = px_json_get_str(e, "from");
        if (from && strcmp(from, id) == 0) {
            if (child)
                return NULL;
            child = px_json_get_str(e, "to");
        }
    }
    if (!child)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(edges, i);
        const char *to = px_json_get_str(e, "to"), *from = px_json_get_str(e, "from");
        if (to && from && strcmp(to, child) == 0 && strcmp(from, id) != 0)
            return NULL;
    }
    struct json_object *c = node_by_id(graph, child);
    const char *kind = px_json_get_str(c, "kind");
    return kind && strcmp(kind, "transform") == 0 ? c : NULL;
}

struct names {
    char **v;
    int n;
};

static void name_add(void *ctx, const char *name)
{
    struct names *s = ctx;
    for (int k = 0; k < s->n; k++)
        if (strcmp(s->v[k], name) == 0)
            return;
    s->v = px_xrealloc(s->v, (size_t)(s->n + 1) * sizeof(*s->v));
    s->v[s->n++] = px_xstrdup(name);
}

static void names_add_array(struct names *s, struct json_object *arr, const char *member)
{
    size_t n = arr && json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
    for (size_t i = 0; i < n; i++) {
        struct json_object *x = json_object_array_get_idx(arr, i);
        const char *name = member ? px_json_get_str(x, member) : json_object_get_string(x);
        if (name)
            name_add(s, name);
    }
}

static void names_free(struct names *s)
{
    for (int k = 0; k < s->n; k++)
        free(s->v[k]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Columns used along a line of filter/dedupe/sort/limit ending in a select; false when the
 * chain is anything else (every column may be needed then). */
static bool needed_columns(struct json_object *graph, const char *source, struct names *need)
{
    const char *id = source;
    for (int depth = 0; depth < 64; depth++) {
        struct json_object *c = only_child(graph, id);
        if (!c)
            return false;
        const char *type = px_json_get_str(c, "type");
        struct json_object *cfg = px_json_get(c, "config");
        if (!type)
            return false;
        if (strcmp(type, "select") == 0) {
            names_add_array(need, px_json_get(cfg, "columns"), NULL);
            return need->n > 0;
        } else if (strcmp(type, "filter") == 0) {
            struct px_expr *e;
            struct px_error err;
            if (px_expr_parse(px_json_get_str(cfg, "condition"), &e, &err))
                return false;
            px_expr_columns(e, name_add, need);
            px_expr_free(e);
        } else if (strcmp(type, "dedupe") == 0) {
            names_add_array(need, px_json_get(cfg, "keys"), NULL);
            const char *ob = px_json_get_str(cfg, "order_by");
            if (ob)
                name_add(need, ob);
        } else if (strcmp(type, "sort") == 0) {
            names_add_array(need, px_json_get(cfg, "by"), "column");
        } else if (strcmp(type, "limit") != 0) {
            return false;
        }
        id = px_json_get_str(c, "id");
        if (!id)
            return false;
    }
    return false;
}

void px_push_plan(struct json_object *graph, const char *node_id, enum px_sql_dialect d,
                  int64_t now_us, const char *cursor_where, struct px_push *out)
{
    memset(out, 0, sizeof(*out));
    if (d == PX_SQL_NONE)
        return;
    struct px_buf where;
    px_buf_init(&where, WHERE_MAX);
    if (cursor_where && *cursor_where)
        (void)px_buf_printf(&where, "(%s)", cursor_where);
    struct json_object *c = only_child(graph, node_id);
    const char *type = c ? px_json_get_str(c, "type") : NULL;
    if (type && strcmp(type, "filter") == 0) {
        struct px_expr *e;
        struct px_error err;
        if (px_expr_parse(px_json_get_str(px_json_get(c, "config"), "condition"), &e, &err) == 0) {
            struct where_ctx w = {&where, d};
            px_expr_preds(e, now_us, add_pred, &w);
            px_expr_free(e);
        }
    }
    out->where = where.len ? px_buf_take(&where) : NULL;
    px_buf_cleanup(&where);
    struct names need = {0};
    if (needed_columns(graph, node_id, &need)) {
        struct json_object *src = node_by_id(graph, node_id);
        const char *cursor = px_json_get_str(px_json_get(src, "config"), "cursor_column");
        if (cursor)
            name_add(&need, cursor);
        out->cols = need.v;
        out->ncols = need.n;
    } else {
        names_free(&need);
    }
}

void px_push_free(struct px_push *p)
{
    free(p->where);
    for (int k = 0; k < p->ncols; k++)
        free(p->cols[k]);
    free(p->cols);
    memset(p, 0, sizeof(*p));
}
