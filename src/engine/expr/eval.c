/*
 * The evaluator of the expression language (px_expr_eval in engine/expr/expr.h; the tree is in
 * engine/expr/expr_int.h): walks the tree over one row with SQL three-valued logic - operators with
 * overflow checks, comparisons (a string against a timestamp is read as one), IN, LIKE,
 * BETWEEN, CASE and the built-in functions. Values themselves (clear, render) are in
 * engine/expr/expr.c.
 */
#include "engine/expr/expr_int.h"

#include "base/buf.h"
#include "base/civil.h"
#include "base/err.h"
#include "base/mem.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- evaluator ------------------------------------------------------------------------------- */

static const char *type_name(enum px_value_type t)
{
    switch (t) {
    case PX_VAL_NULL:
        return "NULL";
    case PX_VAL_BOOL:
        return "boolean";
    case PX_VAL_INT:
        return "integer";
    case PX_VAL_FLOAT:
        return "decimal";
    case PX_VAL_STRING:
        return "string";
    case PX_VAL_TIMESTAMP:
        return "timestamp";
    case PX_VAL_INTERVAL:
        return "interval";
    }
    return "?";
}

struct evalctx {
    const struct px_expr *ex;
    px_expr_row_fn row;
    void *ctx;
    int64_t now;
    struct px_error *err;
};

__attribute__((format(printf, 3, 4))) static int eerr(struct evalctx *c, const struct node *n,
                                                      const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return px_error_set(c->err, PX_EINVALID, "expression: at position %d: %s",
                        px__expr_char_pos(c->ex->text, n->off), msg);
}

static const char *op_name(const struct node *n)
{
    switch (n->op) {
    case T_PLUS:
        return "+";
    case T_MINUS:
        return "-";
    case T_STAR:
        return "*";
    case T_SLASH:
        return "/";
    case T_PCT:
        return "%";
    case T_CONCAT:
        return "||";
    case T_EQ:
        return "=";
    case T_NE:
        return "!=";
    case T_LT:
        return "<";
    case T_LE:
        return "<=";
    case T_GT:
        return ">";
    case T_GE:
        return ">=";
    case T_IDENT:
        return "AND";
    case T_QIDENT:
        return "OR";
    default:
        return "?";
    }
}

static int eval(struct evalctx *c, const struct node *n, struct px_value *out);

static void set_bool(struct px_value *v, bool b)
{
    v->type = PX_VAL_BOOL;
    v->b = b;
}

/* Tri-state of a condition: 1 true, 0 false, -1 NULL; or a negative error (< -1). */
enum { TV_NULL = -1 };
static int truth(struct evalctx *c, const struct node *n, const char *what, int *tv)
{
    struct px_value v = {0};
    int rc = eval(c, n, &v);
    if (rc)
        return rc;
    if (v.type == PX_VAL_NULL) {
        *tv = TV_NULL;
    } else if (v.type == PX_VAL_BOOL) {
        *tv = v.b;
    } else {
        rc = eerr(c, n, "%s needs a true/false value, got %s", what, type_name(v.type));
    }
    px_value_clear(&v);
    return rc;
}

static int as_timestamp(struct evalctx *c, const struct node *n, struct px_value *v)
{
    int64_t us;
    if (v->type != PX_VAL_STRING)
        return 0;
    if (px_expr_parse_timestamp(v->s, &us))
        return eerr(c, n, "'%.40s' is not a timestamp (write 2024-01-31 or 2024-01-31T12:00:00Z)",
                    v->s);
    px_value_clear(v);
    v->type = PX_VAL_TIMESTAMP;
    v->i = us;
    return 0;
}

static bool numeric(const struct px_value *v)
{
    return v->type == PX_VAL_INT || v->type == PX_VAL_FLOAT;
}
static double num(const struct px_value *v)
{
    return v->type == PX_VAL_INT ? (double)v->i : v->f;
}

/* Compares two non-NULL values: *cmp <0, 0, >0. n is the node for messages. */
static int compare(struct evalctx *c, const struct node *n, struct px_value *a, struct px_value *b,
                   int *cmp)
{
    if (a->type == PX_VAL_TIMESTAMP && b->type == PX_VAL_STRING) {
        int rc = as_timestamp(c, n, b);
        if (rc)
            return rc;
    } else if (b->type == PX_VAL_TIMESTAMP && a->type == PX_VAL_STRING) {
        int rc = as_timestamp(c, n, a);
        if (rc)
            return rc;
    }
    if (numeric(a) && numeric(b)) {
        if (a->type == PX_VAL_INT && b->type == PX_VAL_INT)
            *cmp = (a->i > b->i) - (a->i < b->i);
        else
            *cmp = (num(a) > num(b)) - (num(a) < num(b));
        return 0;
    }
    if (a->type != b->type)
        return eerr(c, n, "cannot compare %s with %s", type_name(a->type), type_name(b->type));
    switch (a->type) {
    case PX_VAL_BOOL:
        *cmp = (int)a->b - (int)b->b;
        return 0;
    case PX_VAL_STRING: {
        int r = strcmp(a->s, b->s);
        *cmp = (r > 0) - (r < 0);
        return 0;
    }
    default:
        *cmp = (a->i > b->i) - (a->i < b->i);
        return 0;
    }
}

static void take_string(struct px_value *v, char *s)
{
    v->type = PX_VAL_STRING;
    v->s = s;
}

/* Text of a value for ||. Owned. */
static char *to_text(const struct px_value *v)
{
    if (v->type == PX_VAL_STRING)
        return px_xstrdup(v->s);
    struct px_buf b;
    px_buf_init(&b, 256);
    if (v->type == PX_VAL_TIMESTAMP || v->type == PX_VAL_INTERVAL) {
        px_value_render(v, &b);
        if (v->type == PX_VAL_INTERVAL) { /* interval '7 days' -> 7 days */
            char *s = px_buf_take(&b);
            size_t l = strlen(s);
            memmove(s, s + 10, l - 10);
            s[l - 11] = '\0';
            return s;
        }
    } else {
        px_value_render(v, &b);
    }
    return px_buf_take(&b);
}

static int arith(struct evalctx *c, const struct node *n, struct px_value *a, struct px_value *b,
                 struct px_value *out)
{
    enum tk op = n->op;
    if (op == T_CONCAT) {
        char *x = to_text(a), *y = to_text(b);
        size_t lx = strlen(x), ly = strlen(y);
        char *s = px_xmalloc(lx + ly + 1);
        memcpy(s, x, lx);
        memcpy(s + lx, y, ly + 1);
        free(x);
        free(y);
        take_string(out, s);
        return 0;
    }
    if (a->type == PX_VAL_INT && b->type == PX_VAL_INT) {
        int64_t r = 0;
        bool ovf = false;
        switch (op) {
        case T_PLUS:
            ovf = __builtin_add_overflow(a->i, b->i, &r);
            break;
        case T_MINUS:
            ovf = __builtin_sub_overflow(a->i, b->i, &r);
            break;
        case T_STAR:
            ovf = __builtin_mul_overflow(a->i, b->i, &r);
            break;
        default:
            if (b->i == 0)
                return eerr(c, n, "division by zero");
            if (a->i == INT64_MIN && b->i == -1)
                ovf = true;
            else
                r = op == T_SLASH ? a->i / b->i : a->i % b->i;
            break;
        }
        if (ovf)
            return eerr(c, n, "integer overflow in '%s'", op_name(n));
        out->type = PX_VAL_INT;
        out->i = r;
        return 0;
    }
    if (numeric(a) && numeric(b)) {
        double x = num(a), y = num(b);
        if ((op == T_SLASH || op == T_PCT) && y == 0)
            return eerr(c, n, "division by zero");
        out->type = PX_VAL_FLOAT;
        out->f = op == T_PLUS    ? x + y
                 : op == T_MINUS ? x - y
                 : op == T_STAR  ? x * y
                 : op == T_SLASH ? x / y
                                 : fmod(x, y);
        return 0;
    }
    if (a->type == PX_VAL_TIMESTAMP && b->type == PX_VAL_STRING && op == T_MINUS) {
        int rc = as_timestamp(c, n, b);
        if (rc)
            return rc;
    }
    enum px_value_type ta = a->type, tb = b->type;
    int64_t r;
    bool ovf = false, ok = true;
    if (ta == PX_VAL_TIMESTAMP && tb == PX_VAL_INTERVAL && (op == T_PLUS || op == T_MINUS)) {
        out->type = PX_VAL_TIMESTAMP;
        ovf = op == T_PLUS ? __builtin_add_overflow(a->i, b->i, &r)
                           : __builtin_sub_overflow(a->i, b->i, &r);
    } else if (ta == PX_VAL_INTERVAL && tb == PX_VAL_TIMESTAMP && op == T_PLUS) {
        out->type = PX_VAL_TIMESTAMP;
        ovf = __builtin_add_overflow(a->i, b->i, &r);
    } else if (ta == PX_VAL_TIMESTAMP && tb == PX_VAL_TIMESTAMP && op == T_MINUS) {
        out->type = PX_VAL_INTERVAL;
        ovf = __builtin_sub_overflow(a->i, b->i, &r);
    } else if (ta == PX_VAL_INTERVAL && tb == PX_VAL_INTERVAL && (op == T_PLUS || op == T_MINUS)) {
        out->type = PX_VAL_INTERVAL;
        ovf = op == T_PLUS ? __builtin_add_overflow(a->i, b->i, &r)
                           : __builtin_sub_overflow(a->i, b->i, &r);
    } else if (op == T_STAR && ((ta == PX_VAL_INTERVAL && tb == PX_VAL_INT) ||
                                (ta == PX_VAL_INT && tb == PX_VAL_INTERVAL))) {
        out->type = PX_VAL_INTERVAL;
        ovf = __builtin_mul_overflow(a->i, b->i, &r);
    } else if (op == T_SLASH && ta == PX_VAL_INTERVAL && tb == PX_VAL_INT) {
        if (b->i == 0)
            return eerr(c, n, "division by zero");
        out->type = PX_VAL_INTERVAL;
        ovf = a->i == INT64_MIN && b->i == -1;
        r = ovf ? 0 : a->i / b->i;
    } else {
        ok = false;
    }
    if (!ok) {
        out->type = PX_VAL_NULL;
        return eerr(c, n, "cannot apply '%s' to %s and %s%s", op_name(n), type_name(ta),
                    type_name(tb),
                    ta == PX_VAL_STRING || tb == PX_VAL_STRING ? " (use || to join strings)" : "");
    }
    if (ovf) {
        enum px_value_type t = out->type;
        out->type = PX_VAL_NULL;
        return eerr(c, n, "%s out of range in '%s'", type_name(t), op_name(n));
    }
    out->i = r;
    return 0;
}

/* LIKE with % (any run) and _ (one character); no escape character. */
static bool like(const char *s, const char *p)
{
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        if (*p == '%') {
            star_p = ++p;
            star_s = s;
        } else if (*p == '_' || (*p && *p == *s)) {
            if (*p == '_') {
                s++;
                while (((unsigned char)*s & 0xC0) == 0x80)
                    s++;
            } else {
                s++;
            }
            p++;
        } else if (star_p) {
            p = star_p;
            s = ++star_s;
            while (((unsigned char)*s & 0xC0) == 0x80)
                s = ++star_s;
        } else {
            return false;
        }
    }
    while (*p == '%')
        p++;
    return *p == '\0';
}

/* Byte offset of the k-th (0-based) character of s, or strlen(s). */
static size_t char_off(const char *s, int64_t k)
{
    size_t i = 0;
    while (s[i] && k > 0) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        k--;
    }
    return i;
}

static int want_type(struct evalctx *c, const struct node *n, const struct px_value *v,
                     enum px_value_type t, const char *what)
{
    if (v->type == t || (t == PX_VAL_FLOAT && v->type == PX_VAL_INT))
        return 0;
    return eerr(c, n, "%s() needs %s %s, got %s", px__expr_fn_name(n->fn),
                t == PX_VAL_INT ? "an" : "a", what, type_name(v->type));
}

static int to_ts_value(struct evalctx *c, const struct node *n, struct px_value *v)
{
    if (v->type == PX_VAL_STRING)
        return as_timestamp(c, n, v);
    if (v->type == PX_VAL_INT || v->type == PX_VAL_FLOAT) {
        double us = num(v) * 1e6;
        if (!(us > -9.2e18 && us < 9.2e18))
            return eerr(c, n, "%s(): %g seconds is out of range", px__expr_fn_name(n->fn), num(v));
        v->i = (int64_t)llround(us);
        v->type = PX_VAL_TIMESTAMP;
        return 0;
    }
    if (v->type != PX_VAL_TIMESTAMP)
        return eerr(c, n, "%s() needs a timestamp, a string or epoch seconds, got %s",
                    px__expr_fn_name(n->fn), type_name(v->type));
    return 0;
}

static int64_t trunc_ts(int64_t ts, int unit)
{
    static const int64_t size[] = {US_SEC, US_MIN, US_HOUR, US_DAY};
    if (unit <= 3)
        return px_floor_div(ts, size[unit]) * size[unit];
    int64_t days = px_floor_div(ts, US_DAY), y;
    int m, d;
    if (unit == 4) /* week: back to Monday (1970-01-01 was a Thursday) */
        return (days - ((days % 7 + 7 + 3) % 7)) * US_DAY;
    px_civil_from_days(days, &y, &m, &d);
    return px_days_from_civil(y, unit == 5 ? m : 1, 1) * US_DAY;
}

static int call(struct evalctx *c, const struct node *n, struct px_value *out)
{
    struct px_value a = {0}, b = {0}, d = {0};
    int rc = 0;
    if (n->fn == F_NOW) {
        out->type = PX_VAL_TIMESTAMP;
        out->i = c->now;
        return 0;
    }
    if (n->fn == F_COALESCE) {
        for (int k = 0; k < n->nkids; k++) {
            rc = eval(c, n->kids[k], out);
            if (rc || out->type != PX_VAL_NULL)
                return rc;
        }
        return 0;
    }
    rc = eval(c, n->kids[0], &a);
    if (!rc && n->nkids > 1)
        rc = eval(c, n->kids[1], &b);
    if (!rc && n->nkids > 2)
        rc = eval(c, n->kids[2], &d);
    if (rc || a.type == PX_VAL_NULL || (n->nkids > 1 && b.type == PX_VAL_NULL) ||
        (n->nkids > 2 && d.type == PX_VAL_NULL))
        goto done; /* NULL in, NULL out */
    switch (n->fn) {
    case F_LOWER:
    case F_UPPER:
        if ((rc = want_type(c, n, &a, PX_VAL_STRING, "string")))
            break;
        for (char *s = a.s; *s; s++)
            *s = (char)(n->fn == F_LOWER ? tolower((unsigned char)*s) : toupper((unsigned char)*s));
        *out = a;
        a.type = PX_VAL_NULL;
        break;
    case F_LENGTH: {
        if ((rc = want_type(c, n, &a, PX_VAL_STRING, "string")))
            break;
        int64_t len = 0;
        for (const char *s = a.s; *s; s++)
            len += ((unsigned char)*s & 0xC0) != 0x80;
        out->type = PX_VAL_INT;
        out->i = len;
        break;
    }
    case F_TRIM: {
        if ((rc = want_type(c, n, &a, PX_VAL_STRING, "string")))
            break;
        const char *s = a.s;
        size_t len = strlen(s);
        while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
            s++, len--;
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
                           s[len - 1] == '\r'))
            len--;
        take_string(out, px_xstrndup(s, len));
        break;
    }
    case F_SUBSTR: {
        if ((rc = want_type(c, n, &a, PX_VAL_STRING, "string")))
            break;
        if (b.type != PX_VAL_INT || (n->nkids > 2 && d.type != PX_VAL_INT)) {
            rc = eerr(c, n, "substr() needs whole numbers for start and length, got %s",
                      type_name(b.type != PX_VAL_INT ? b.type : d.type));
            break;
        }
        if (n->nkids > 2 && d.i < 0) {
            rc = eerr(c, n, "substr(): negative length %lld", (long long)d.i);
            break;
        }
        int64_t from = b.i, to = INT64_MAX; /* 1-based, to exclusive */
        if (n->nkids > 2 && __builtin_add_overflow(b.i, d.i, &to))
            to = INT64_MAX;
        if (from < 1)
            from = 1;
        if (to <= from) {
            take_string(out, px_xstrdup(""));
            break;
        }
        size_t s0 = char_off(a.s, from - 1),
               s1 = to == INT64_MAX ? strlen(a.s) : char_off(a.s, to - 1);
        take_string(out, px_xstrndup(a.s + s0, s1 - s0));
        break;
    }
    case F_ABS:
        if ((rc = want_type(c, n, &a, PX_VAL_FLOAT, "number")))
            break;
        if (a.type == PX_VAL_INT) {
            if (a.i == INT64_MIN) {
                rc = eerr(c, n, "integer overflow in abs()");
                break;
            }
            out->type = PX_VAL_INT;
            out->i = a.i < 0 ? -a.i : a.i;
        } else {
            out->type = PX_VAL_FLOAT;
            out->f = fabs(a.f);
        }
        break;
    case F_ROUND: {
        if ((rc = want_type(c, n, &a, PX_VAL_FLOAT, "number")))
            break;
        int64_t dg = 0;
        if (n->nkids > 1) {
            if (b.type != PX_VAL_INT) {
                rc = eerr(c, n, "round() needs whole-number digits, got %s", type_name(b.type));
                break;
            }
            dg = b.i;
        }
        if (a.type == PX_VAL_INT) {
            out->type = PX_VAL_INT;
            out->i = a.i;
            if (dg < 0) {
                if (dg < -18) {
                    out->i = 0;
                    break;
                }
                int64_t p = 1;
                for (int64_t k = 0; k < -dg; k++)
                    p *= 10;
                int64_t q = a.i / p, r = a.i % p;
                if (r >= p - r)
                    q++;
                else if (r < 0 && -r >= p + r)
                    q--;
                if (__builtin_mul_overflow(q, p, &out->i)) {
                    out->type = PX_VAL_NULL;
                    rc = eerr(c, n, "integer overflow in round()");
                }
            }
            break;
        }
        out->type = PX_VAL_FLOAT;
        if (dg > 15 || !isfinite(a.f)) {
            out->f = a.f;
        } else if (dg < -308) {
            out->f = 0;
        } else {
            double p = pow(10, (double)dg);
            out->f = round(a.f * p) / p;
            if (!isfinite(out->f))
                out->f = a.f;
        }
        break;
    }
    case F_DATE_TRUNC: {
        if ((rc = want_type(c, n, &a, PX_VAL_STRING, "unit string")))
            break;
        int unit = px__expr_trunc_unit(a.s);
        if (unit < 0) {
            rc = eerr(c, n, "date_trunc: unknown unit '%.20s'", a.s);
            break;
        }
        if ((rc = to_ts_value(c, n, &b)))
            break;
        out->type = PX_VAL_TIMESTAMP;
        out->i = trunc_ts(b.i, unit);
        break;
    }
    case F_TO_TIMESTAMP:
    case F_TO_DATE:
        if ((rc = to_ts_value(c, n, &a)))
            break;
        out->type = PX_VAL_TIMESTAMP;
        out->i = n->fn == F_TO_DATE ? trunc_ts(a.i, 3) : a.i;
        break;
    default:
        break;
    }
done:
    px_value_clear(&a);
    px_value_clear(&b);
    px_value_clear(&d);
    return rc;
}

static int eval_case(struct evalctx *c, const struct node *n, struct px_value *out)
{
    int k = 0, rc = 0;
    struct px_value subj = {0};
    if (n->has_subj) {
        rc = eval(c, n->kids[0], &subj);
        if (rc)
            return rc;
        k = 1;
    }
    int end = n->nkids - (n->has_else ? 1 : 0);
    for (; k + 1 < end; k += 2) {
        int tv = 0;
        if (n->has_subj) {
            struct px_value w = {0}, s2 = {0};
            rc = eval(c, n->kids[k], &w);
            if (!rc && subj.type != PX_VAL_NULL && w.type != PX_VAL_NULL) {
                s2 = subj;
                if (subj.type == PX_VAL_STRING)
                    s2.s = px_xstrdup(subj.s);
                int cmp;
                rc = compare(c, n->kids[k], &s2, &w, &cmp);
                tv = rc ? 0 : cmp == 0;
            }
            px_value_clear(&w);
            px_value_clear(&s2);
        } else {
            rc = truth(c, n->kids[k], "WHEN", &tv);
        }
        if (rc)
            break;
        if (tv == 1) {
            rc = eval(c, n->kids[k + 1], out);
            px_value_clear(&subj);
            return rc;
        }
    }
    if (!rc && n->has_else)
        rc = eval(c, n->kids[n->nkids - 1], out);
    px_value_clear(&subj);
    return rc;
}

static int eval(struct evalctx *c, const struct node *n, struct px_value *out)
{
    struct px_value a = {0}, b = {0}, d = {0};
    int rc = 0;
    memset(out, 0, sizeof(*out));
    switch (n->kind) {
    case N_LIT:
        *out = n->lit;
        if (out->type == PX_VAL_STRING)
            out->s = px_xstrdup(n->lit.s);
        return 0;
    case N_COL: {
        struct px_value v = {0};
        rc = c->row ? c->row(c->ctx, n->name, &v) : -PX_ENOTFOUND;
        if (rc == -PX_ENOTFOUND)
            return eerr(c, n, "unknown column '%.64s'", n->name);
        if (rc)
            return eerr(c, n, "could not read column '%.64s'", n->name);
        *out = v;
        if (v.type == PX_VAL_STRING)
            out->s = px_xstrdup(v.s ? v.s : "");
        return 0;
    }
    case N_NEG:
        if ((rc = eval(c, n->kids[0], &a)))
            return rc;
        *out = a;
        if (a.type == PX_VAL_FLOAT) {
            out->f = -a.f;
        } else if (a.type == PX_VAL_INT || a.type == PX_VAL_INTERVAL) {
            if (a.i == INT64_MIN) {
                out->type = PX_VAL_NULL;
                return eerr(c, n, "integer overflow in '-'");
            }
            out->i = -a.i;
        } else if (a.type != PX_VAL_NULL) {
            enum px_value_type t = a.type;
            px_value_clear(&a);
            memset(out, 0, sizeof(*out));
            return eerr(c, n, "cannot negate %s", type_name(t));
        }
        return 0;
    case N_NOT: {
        int tv;
        if ((rc = truth(c, n->kids[0], "NOT", &tv)))
            return rc;
        if (tv != TV_NULL)
            set_bool(out, !tv);
        return 0;
    }
    case N_ISNULL:
        if ((rc = eval(c, n->kids[0], &a)))
            return rc;
        set_bool(out, (a.type == PX_VAL_NULL) != n->neg);
        px_value_clear(&a);
        return 0;
    case N_BIN:
        if (n->op == T_IDENT || n->op == T_QIDENT) { /* AND / OR */
            bool is_and = n->op == T_IDENT;
            int l, r;
            if ((rc = truth(c, n->kids[0], op_name(n), &l)))
                return rc;
            if (l == (is_and ? 0 : 1)) { /* short circuit */
                set_bool(out, l);
                return 0;
            }
            if ((rc = truth(c, n->kids[1], op_name(n), &r)))
                return rc;
            if (r == (is_and ? 0 : 1))
                set_bool(out, r);
            else if (l != TV_NULL && r != TV_NULL)
                set_bool(out, l);
            return 0; /* else NULL */
        }
        if ((rc = eval(c, n->kids[0], &a)) || (rc = eval(c, n->kids[1], &b)))
            goto done;
        if (a.type == PX_VAL_NULL || b.type == PX_VAL_NULL)
            goto done;
        if (px__expr_is_cmp_tok(n->op)) {
            int cmp;
            if ((rc = compare(c, n, &a, &b, &cmp)))
                goto done;
            bool r = n->op == T_EQ   ? cmp == 0
                     : n->op == T_NE ? cmp != 0
                     : n->op == T_LT ? cmp < 0
                     : n->op == T_LE ? cmp <= 0
                     : n->op == T_GT ? cmp > 0
                                     : cmp >= 0;
            set_bool(out, r);
        } else {
            rc = arith(c, n, &a, &b, out);
        }
        goto done;
    case N_IN: {
        bool saw_null = false, found = false;
        if ((rc = eval(c, n->kids[0], &a)))
            return rc;
        if (a.type == PX_VAL_NULL)
            return 0;
        for (int k = 1; k < n->nkids && !found; k++) {
            if ((rc = eval(c, n->kids[k], &b)))
                goto done;
            if (b.type == PX_VAL_NULL) {
                saw_null = true;
            } else {
                int cmp;
                d = a;
                if (a.type == PX_VAL_STRING)
                    d.s = px_xstrdup(a.s);
                rc = compare(c, n->kids[k], &d, &b, &cmp);
                px_value_clear(&d);
                if (rc)
                    goto done;
                found = cmp == 0;
            }
            px_value_clear(&b);
        }
        if (found || !saw_null)
            set_bool(out, found != n->neg);
        goto done;
    }
    case N_LIKE:
        if ((rc = eval(c, n->kids[0], &a)) || (rc = eval(c, n->kids[1], &b)))
            goto done;
        if (a.type == PX_VAL_NULL || b.type == PX_VAL_NULL)
            goto done;
        if (a.type != PX_VAL_STRING || b.type != PX_VAL_STRING) {
            rc = eerr(c, n, "LIKE needs strings, got %s LIKE %s", type_name(a.type),
                      type_name(b.type));
            goto done;
        }
        set_bool(out, like(a.s, b.s) != n->neg);
        goto done;
    case N_BETWEEN: {
        if ((rc = eval(c, n->kids[0], &a)) || (rc = eval(c, n->kids[1], &b)) ||
            (rc = eval(c, n->kids[2], &d)))
            goto done;
        int lo = TV_NULL, hi = TV_NULL, cmp;
        struct px_value a2 = a;
        if (a.type == PX_VAL_STRING)
            a2.s = px_xstrdup(a.s);
        if (a.type != PX_VAL_NULL && b.type != PX_VAL_NULL) {
            rc = compare(c, n, &a, &b, &cmp);
            lo = cmp >= 0;
        }
        if (!rc && a2.type != PX_VAL_NULL && d.type != PX_VAL_NULL) {
            rc = compare(c, n, &a2, &d, &cmp);
            hi = cmp <= 0;
        }
        px_value_clear(&a2);
        if (rc)
            goto done;
        if (lo == 0 || hi == 0)
            set_bool(out, n->neg);
        else if (lo == 1 && hi == 1)
            set_bool(out, !n->neg);
        goto done;
    }
    case N_CASE:
        return eval_case(c, n, out);
    case N_CALL:
        return call(c, n, out);
    }
done:
    px_value_clear(&a);
    px_value_clear(&b);
    px_value_clear(&d);
    if (rc)
        px_value_clear(out);
    return rc;
}

int px__expr_eval_node(const struct px_expr *expr, const struct node *n, px_expr_row_fn row,
                       void *ctx, int64_t now_us, struct px_value *out, struct px_error *err)
{
    struct evalctx c = {.ex = expr, .row = row, .ctx = ctx, .now = now_us, .err = err};
    int rc = eval(&c, n, out);
    if (rc)
        px_value_clear(out);
    return rc;
}

int px_expr_eval(const struct px_expr *expr, px_expr_row_fn row, void *ctx, int64_t now_us,
                 struct px_value *out, struct px_error *err)
{
    return px__expr_eval_node(expr, expr->root, row, ctx, now_us, out, err);
}
