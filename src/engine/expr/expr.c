/*
 * Expression language (see engine/expr/expr.h). The module is split around a private header,
 * engine/expr/expr_int.h (token kinds, the tree, and the internal functions the files share):
 *   engine/expr/expr.c        (this file) values (clear, render, read a timestamp), the helpers the
 *                 parser and the evaluator share, and the tree's lifetime and columns;
 *   engine/expr/parse.c  the lexer and the recursive-descent parser that build the tree;
 *   engine/expr/eval.c   the tree-walking evaluator with SQL three-valued logic;
 *   engine/expr/preds.c  simple predicates of a filter, for pushdown into SQL sources.
 */
#include "engine/expr/expr_int.h"

#include "base/buf.h"
#include "base/civil.h"
#include "base/err.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- values ---------------------------------------------------------------------------------- */

void px_value_clear(struct px_value *v)
{
    if (v->type == PX_VAL_STRING)
        free(v->s);
    memset(v, 0, sizeof(*v));
}

static int digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (!isdigit((unsigned char)(*s)[k]))
            return -1;
        v = v * 10 + ((*s)[k] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

int px_expr_parse_timestamp(const char *s, int64_t *us_out)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' || digits(&s, 2, &d))
        return -PX_EINVALID;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && px_is_leap(y)))
        return -PX_EINVALID;
    int64_t off_us = 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (digits(&s, 2, &h) || *s++ != ':' || digits(&s, 2, &mi))
            return -PX_EINVALID;
        if (*s == ':') {
            s++;
            if (digits(&s, 2, &sec))
                return -PX_EINVALID;
            if (*s == '.') {
                s++;
                int n = 0;
                if (!isdigit((unsigned char)*s))
                    return -PX_EINVALID;
                while (isdigit((unsigned char)*s)) {
                    if (n < 6)
                        frac = frac * 10 + (*s - '0');
                    n++;
                    s++;
                }
                for (; n < 6; n++)
                    frac *= 10;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -PX_EINVALID;
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int sign = *s++ == '-' ? -1 : 1, oh, om = 0;
            if (digits(&s, 2, &oh))
                return -PX_EINVALID;
            if (*s == ':')
                s++;
            if (*s && digits(&s, 2, &om))
                return -PX_EINVALID;
            if (oh > 23 || om > 59)
                return -PX_EINVALID;
            off_us = sign * ((int64_t)oh * US_HOUR + (int64_t)om * US_MIN);
        }
    }
    if (*s)
        return -PX_EINVALID;
    *us_out = px_days_from_civil(y, mo, d) * US_DAY + (int64_t)h * US_HOUR + (int64_t)mi * US_MIN +
              (int64_t)sec * US_SEC + frac - off_us;
    return 0;
}

int px_value_render(const struct px_value *v, struct px_buf *out)
{
    char tmp[64];
    switch (v->type) {
    case PX_VAL_NULL:
        return px_buf_puts(out, "NULL");
    case PX_VAL_BOOL:
        return px_buf_puts(out, v->b ? "true" : "false");
    case PX_VAL_INT:
        return px_buf_printf(out, "%lld", (long long)v->i);
    case PX_VAL_FLOAT:
        if (isnan(v->f))
            return px_buf_puts(out, "NaN");
        if (isinf(v->f))
            return px_buf_puts(out, v->f > 0 ? "Infinity" : "-Infinity");
        snprintf(tmp, sizeof(tmp), "%.15g", v->f);
        if (strtod(tmp, NULL) != v->f)
            snprintf(tmp, sizeof(tmp), "%.17g", v->f);
        if (!strpbrk(tmp, ".e"))
            snprintf(tmp + strlen(tmp), sizeof(tmp) - strlen(tmp), ".0");
        return px_buf_puts(out, tmp);
    case PX_VAL_STRING: {
        int rc = px_buf_puts(out, "'");
        for (const char *c = v->s; rc == 0 && *c; c++)
            rc = *c == '\'' ? px_buf_puts(out, "''") : px_buf_append(out, c, 1);
        return rc ? rc : px_buf_puts(out, "'");
    }
    case PX_VAL_TIMESTAMP: {
        int64_t days = px_floor_div(v->i, US_DAY), rem = v->i - days * US_DAY, y;
        int m, d;
        px_civil_from_days(days, &y, &m, &d);
        int rc =
            px_buf_printf(out, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y, m, d,
                          (int)(rem / US_HOUR), (int)(rem / US_MIN % 60), (int)(rem / US_SEC % 60));
        if (rc == 0 && rem % US_SEC)
            rc = px_buf_printf(out, ".%06d", (int)(rem % US_SEC));
        return rc ? rc : px_buf_puts(out, "Z");
    }
    case PX_VAL_INTERVAL: {
        static const struct {
            const char *unit;
            int64_t us;
        } u[] = {{"week", US_WEEK},
                 {"day", US_DAY},
                 {"hour", US_HOUR},
                 {"minute", US_MIN},
                 {"second", US_SEC}};
        for (size_t k = 0; k < sizeof(u) / sizeof(u[0]); k++)
            if (v->i % u[k].us == 0) {
                long long n = v->i / u[k].us;
                if (v->i == 0)
                    return px_buf_puts(out, "interval '0 seconds'");
                return px_buf_printf(out, "interval '%lld %s%s'", n, u[k].unit,
                                     n == 1 || n == -1 ? "" : "s");
            }
        return px_buf_printf(out, "interval '%s%lld.%06lld seconds'", v->i < 0 ? "-" : "",
                             (long long)(v->i / US_SEC < 0 ? -(v->i / US_SEC) : v->i / US_SEC),
                             (long long)(v->i % US_SEC < 0 ? -(v->i % US_SEC) : v->i % US_SEC));
    }
    }
    return 0;
}

/* ---- shared helpers (declared in engine/expr/expr_int.h)
 * ------------------------------------------------- */

/* 1-based character position of byte offset off (UTF-8 continuation bytes do not count). */
int px__expr_char_pos(const char *s, size_t off)
{
    int n = 1;
    for (size_t i = 0; i < off && s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

bool px__expr_is_cmp_tok(enum tk t)
{
    return t == T_EQ || t == T_NE || t == T_LT || t == T_LE || t == T_GT || t == T_GE;
}

static const char *const trunc_units[] = {"second", "minute", "hour", "day",
                                          "week",   "month",  "year"};

int px__expr_trunc_unit(const char *s)
{
    for (size_t k = 0; k < sizeof(trunc_units) / sizeof(trunc_units[0]); k++)
        if (strcasecmp(s, trunc_units[k]) == 0)
            return (int)k;
    return -1;
}

/* ---- the tree: lifetime and columns ---------------------------------------------------------- */

void px_expr_free(struct px_expr *expr)
{
    if (!expr)
        return;
    for (int k = 0; k < expr->nall; k++) {
        struct node *n = expr->all[k];
        free(n->kids);
        free(n->name);
        if (n->lit.type == PX_VAL_STRING)
            free(n->lit.s);
        free(n);
    }
    free(expr->all);
    free(expr->cols);
    free(expr->text);
    free(expr);
}

void px_expr_columns(const struct px_expr *expr, px_expr_column_fn fn, void *ctx)
{
    for (int k = 0; k < expr->ncols; k++)
        fn(ctx, expr->cols[k]);
}
