/*
 * Lexer and parser of the expression language (engine/expr/expr.h; shared types in
 * engine/expr/expr_int.h): a lexer that turns the whole text into tokens first, and a
 * recursive-descent parser with one function per precedence level that builds the tree. Every node
 * is also kept in a flat list owned by the expression, so a failed parse frees whatever it built in
 * one loop and nothing recurses on free (px_expr_free, in engine/expr/expr.c).
 */
#include "engine/expr/expr_int.h"

#include "base/err.h"
#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens ---------------------------------------------------------------------------------- */

struct tok {
    enum tk t;
    size_t off, len;
};

/* ---- functions ------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int min, max; /* max -1: any number */
    const char *usage;
} fns[] = {
    [F_NOW] = {"now", 0, 0, "now()"},
    [F_LOWER] = {"lower", 1, 1, "lower(text)"},
    [F_UPPER] = {"upper", 1, 1, "upper(text)"},
    [F_LENGTH] = {"length", 1, 1, "length(text)"},
    [F_TRIM] = {"trim", 1, 1, "trim(text)"},
    [F_SUBSTR] = {"substr", 2, 3, "substr(text, start[, length])"},
    [F_COALESCE] = {"coalesce", 1, -1, "coalesce(value, ...)"},
    [F_ABS] = {"abs", 1, 1, "abs(number)"},
    [F_ROUND] = {"round", 1, 2, "round(number[, digits])"},
    [F_DATE_TRUNC] = {"date_trunc", 2, 2, "date_trunc('day', timestamp)"},
    [F_TO_TIMESTAMP] = {"to_timestamp", 1, 1, "to_timestamp(text or epoch seconds)"},
    [F_TO_DATE] = {"to_date", 1, 1, "to_date(text)"},
};
#define NFNS (sizeof(fns) / sizeof(fns[0]))

const char *px__expr_fn_name(enum fn f)
{
    return fns[f].name;
}

/* ---- messages -------------------------------------------------------------------------------- */

__attribute__((format(printf, 4, 5))) static int perr(struct px_error *err, const char *src,
                                                      size_t off, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return px_error_set(err, PX_EINVALID, "expression: at position %d: %s",
                        px__expr_char_pos(src, off), msg);
}

/* ---- lexer ----------------------------------------------------------------------------------- */

static bool ident_start(int c)
{
    return isalpha(c) || c == '_';
}
static bool ident_char(int c)
{
    return isalnum(c) || c == '_';
}

/* Lexes src into *toks (owned; ends with T_END). */
static int lex(const char *src, struct tok **toks_out, size_t *n_out, struct px_error *err)
{
    size_t cap = 16, n = 0, i = 0;
    struct tok *toks = px_xmalloc(cap * sizeof(*toks));
    int rc = 0;
    for (;;) {
        while (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r')
            i++;
        if (n + 1 >= cap) {
            cap *= 2;
            toks = px_xrealloc(toks, cap * sizeof(*toks));
        }
        struct tok *t = &toks[n];
        t->off = i;
        unsigned char c = (unsigned char)src[i];
        if (c == '\0') {
            t->t = T_END;
            t->len = 0;
            n++;
            break;
        }
        size_t start = i;
        if (isdigit(c) || (c == '.' && isdigit((unsigned char)src[i + 1]))) {
            bool dec = false;
            while (isdigit((unsigned char)src[i]))
                i++;
            if (src[i] == '.') {
                dec = true;
                i++;
                while (isdigit((unsigned char)src[i]))
                    i++;
            }
            if ((src[i] == 'e' || src[i] == 'E') &&
                (isdigit((unsigned char)src[i + 1]) || ((src[i + 1] == '+' || src[i + 1] == '-') &&
                                                        isdigit((unsigned char)src[i + 2])))) {
                dec = true;
                i += 2;
                while (isdigit((unsigned char)src[i]))
                    i++;
            }
            if (ident_char((unsigned char)src[i]) || src[i] == '.') {
                size_t e = i;
                while (ident_char((unsigned char)src[e]) || src[e] == '.')
                    e++;
                rc = perr(err, src, start, "invalid number '%.*s'",
                          (int)(e - start > 30 ? 30 : e - start), src + start);
                break;
            }
            t->t = dec ? T_DEC : T_INT;
        } else if (ident_start(c)) {
            while (ident_char((unsigned char)src[i]))
                i++;
            t->t = T_IDENT;
        } else if (c == '\'' || c == '"') {
            i++;
            for (;;) {
                if (src[i] == '\0') {
                    rc = px_error_set(
                        err, PX_EINVALID, "expression: unterminated %s starting at position %d",
                        c == '\'' ? "string" : "quoted column name", px__expr_char_pos(src, start));
                    px_error_hint(err, "close it with %c (write %c%c for a %c inside it)", c, c, c,
                                  c);
                    break;
                }
                if ((unsigned char)src[i] == c) {
                    if ((unsigned char)src[i + 1] == c) {
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
            if (rc)
                break;
            t->t = c == '\'' ? T_STR : T_QIDENT;
            if (c == '"' && i - start == 2) {
                rc = perr(err, src, start, "empty quoted column name");
                break;
            }
        } else {
            i++;
            switch (c) {
            case '(':
                t->t = T_LP;
                break;
            case ')':
                t->t = T_RP;
                break;
            case ',':
                t->t = T_COMMA;
                break;
            case '+':
                t->t = T_PLUS;
                break;
            case '-':
                t->t = T_MINUS;
                break;
            case '*':
                t->t = T_STAR;
                break;
            case '/':
                t->t = T_SLASH;
                break;
            case '%':
                t->t = T_PCT;
                break;
            case '=':
                t->t = T_EQ;
                if (src[i] == '=')
                    i++; /* == is accepted as = */
                break;
            case '|':
                if (src[i] != '|') {
                    rc = perr(err, src, start, "'|' is not an operator; use '||' to join strings");
                    break;
                }
                i++;
                t->t = T_CONCAT;
                break;
            case '!':
                if (src[i] != '=') {
                    rc = perr(err, src, start, "'!' is not an operator; use NOT or '!='");
                    break;
                }
                i++;
                t->t = T_NE;
                break;
            case '<':
                t->t = T_LT;
                if (src[i] == '=') {
                    i++;
                    t->t = T_LE;
                } else if (src[i] == '>') {
                    i++;
                    t->t = T_NE;
                }
                break;
            case '>':
                t->t = T_GT;
                if (src[i] == '=') {
                    i++;
                    t->t = T_GE;
                }
                break;
            default:
                if (c >= 0x20 && c < 0x7f)
                    rc = perr(err, src, start, "unexpected character '%c'", c);
                else
                    rc = perr(err, src, start, "unexpected character (byte 0x%02X)", c);
                break;
            }
            if (rc)
                break;
        }
        t->len = i - start;
        n++;
    }
    if (rc) {
        free(toks);
        return rc;
    }
    *toks_out = toks;
    *n_out = n;
    return 0;
}

/* ---- parser ---------------------------------------------------------------------------------- */

struct parser {
    const char *src;
    struct tok *toks;
    size_t i;
    int depth;
    struct px_expr *ex;
    struct px_error *err;
};

static const char *const reserved[] = {"and",  "or",      "not",   "is",      "null", "in",
                                       "like", "between", "case",  "when",    "then", "else",
                                       "end",  "true",    "false", "interval"};

static const struct tok *peek(const struct parser *p)
{
    return &p->toks[p->i];
}
static const struct tok *peek2(const struct parser *p)
{
    return p->toks[p->i].t == T_END ? &p->toks[p->i] : &p->toks[p->i + 1];
}

static bool tok_kw(const struct parser *p, const struct tok *t, const char *kw)
{
    return t->t == T_IDENT && t->len == strlen(kw) && strncasecmp(p->src + t->off, kw, t->len) == 0;
}
static bool is_kw(const struct parser *p, const char *kw)
{
    return tok_kw(p, peek(p), kw);
}
static bool accept_kw(struct parser *p, const char *kw)
{
    if (!is_kw(p, kw))
        return false;
    p->i++;
    return true;
}
static bool is_reserved(const struct parser *p, const struct tok *t)
{
    for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]); k++)
        if (tok_kw(p, t, reserved[k]))
            return true;
    return false;
}

/* "'AND'" or "end of expression", for messages. */
static void describe(const struct parser *p, const struct tok *t, char *out, size_t cap)
{
    if (t->t == T_END)
        snprintf(out, cap, "the end of the expression");
    else
        snprintf(out, cap, "'%.*s%s'", (int)(t->len > 24 ? 24 : t->len), p->src + t->off,
                 t->len > 24 ? "..." : "");
}

/* Fails at the current token: "expected <what>, found 'x'". */
static int expected(struct parser *p, const char *what)
{
    char found[40];
    describe(p, peek(p), found, sizeof(found));
    return perr(p->err, p->src, peek(p)->off, "expected %s, found %s", what, found);
}

static struct node *new_node(struct parser *p, enum nkind kind, size_t off)
{
    if (p->ex->nall >= PX_EXPR_MAX_NODES) {
        perr(p->err, p->src, off, "expression is too complex (more than %d parts); split it",
             PX_EXPR_MAX_NODES);
        return NULL;
    }
    struct node *n = px_xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->off = off;
    if (p->ex->nall % 64 == 0)
        p->ex->all = px_xrealloc(p->ex->all, (size_t)(p->ex->nall + 64) * sizeof(*p->ex->all));
    p->ex->all[p->ex->nall++] = n;
    return n;
}

static void add_kid(struct node *n, struct node *k)
{
    if (n->nkids == n->capkids) {
        n->capkids = n->capkids ? n->capkids * 2 : 2;
        n->kids = px_xrealloc(n->kids, (size_t)n->capkids * sizeof(*n->kids));
    }
    n->kids[n->nkids++] = k;
}

static struct node *binary(struct parser *p, enum nkind kind, enum tk op, size_t off,
                           struct node *l, struct node *r)
{
    struct node *n = new_node(p, kind, off);
    if (!n)
        return NULL;
    n->op = op;
    add_kid(n, l);
    add_kid(n, r);
    return n;
}

static int enter(struct parser *p)
{
    if (++p->depth > PX_EXPR_MAX_DEPTH)
        return perr(p->err, p->src, peek(p)->off,
                    "expression nests too deeply (more than %d levels)", PX_EXPR_MAX_DEPTH);
    return 0;
}

/* Decodes a quoted token ('it''s' or "a""b") into an owned string. */
static char *unquote(const struct parser *p, const struct tok *t)
{
    const char *s = p->src + t->off;
    char q = s[0];
    char *out = px_xmalloc(t->len);
    size_t o = 0;
    for (size_t k = 1; k + 1 < t->len; k++) {
        out[o++] = s[k];
        if (s[k] == q)
            k++;
    }
    out[o] = '\0';
    return out;
}

static struct node *parse_or(struct parser *p);
static struct node *parse_add(struct parser *p);

/* Levenshtein distance, capped inputs. */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b), prev[32], cur[32];
    if (la >= 31 || lb >= 31)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t c = prev[j - 1] + (tolower((unsigned char)a[i - 1]) != b[j - 1]);
            if (prev[j] + 1 < c)
                c = prev[j] + 1;
            if (cur[j - 1] + 1 < c)
                c = cur[j - 1] + 1;
            cur[j] = c;
        }
        memcpy(prev, cur, (lb + 1) * sizeof(size_t));
    }
    return prev[lb];
}

static struct node *parse_call(struct parser *p)
{
    const struct tok *name = peek(p);
    size_t best = 99;
    int f = -1, guess = -1;
    for (size_t k = 0; k < NFNS; k++) {
        if (name->len == strlen(fns[k].name) &&
            strncasecmp(p->src + name->off, fns[k].name, name->len) == 0) {
            f = (int)k;
            break;
        }
        size_t d = edit_distance(p->src + name->off, name->len, fns[k].name);
        if (d < best) {
            best = d;
            guess = (int)k;
        }
    }
    if (f < 0) {
        int len = (int)(name->len > 30 ? 30 : name->len);
        if (best <= 2)
            perr(p->err, p->src, name->off, "unknown function '%.*s' (did you mean %s?)", len,
                 p->src + name->off, fns[guess].name);
        else
            perr(p->err, p->src, name->off, "unknown function '%.*s'", len, p->src + name->off);
        px_error_hint(p->err,
                      "functions: now, lower, upper, length, trim, substr, coalesce, abs, round, "
                      "date_trunc, to_timestamp, to_date");
        return NULL;
    }
    struct node *n = new_node(p, N_CALL, name->off);
    if (!n)
        return NULL;
    n->fn = (enum fn)f;
    p->i += 2; /* name ( */
    if (peek(p)->t != T_RP) {
        for (;;) {
            struct node *a = parse_or(p);
            if (!a)
                return NULL;
            add_kid(n, a);
            if (peek(p)->t == T_COMMA) {
                p->i++;
                continue;
            }
            if (peek(p)->t != T_RP) {
                char what[64];
                snprintf(what, sizeof(what), "',' or ')' in the arguments of %s()", fns[f].name);
                expected(p, what);
                return NULL;
            }
            break;
        }
    }
    p->i++; /* ) */
    if (n->nkids < fns[f].min || (fns[f].max >= 0 && n->nkids > fns[f].max)) {
        char want[32];
        if (fns[f].max < 0)
            snprintf(want, sizeof(want), "at least %d argument%s", fns[f].min,
                     fns[f].min == 1 ? "" : "s");
        else if (fns[f].min == fns[f].max)
            snprintf(want, sizeof(want), "%d argument%s", fns[f].min, fns[f].min == 1 ? "" : "s");
        else
            snprintf(want, sizeof(want), "%d to %d arguments", fns[f].min, fns[f].max);
        perr(p->err, p->src, n->off, "%s() takes %s, got %d (usage: %s)", fns[f].name, want,
             n->nkids, fns[f].usage);
        return NULL;
    }
    if (f == F_DATE_TRUNC && n->kids[0]->kind == N_LIT && n->kids[0]->lit.type == PX_VAL_STRING &&
        px__expr_trunc_unit(n->kids[0]->lit.s) < 0) {
        perr(p->err, p->src, n->kids[0]->off,
             "date_trunc: unknown unit '%.20s' (use second, minute, hour, day, week, month or "
             "year)",
             n->kids[0]->lit.s);
        return NULL;
    }
    return n;
}

/* Reads "N unit" of an interval literal. */
static int parse_interval(struct parser *p, const struct tok *t, int64_t *us)
{
    char *s = unquote(p, t);
    const char *q = s;
    int rc = 0;
    while (*q == ' ')
        q++;
    bool neg = false;
    if (*q == '-' || *q == '+')
        neg = *q++ == '-';
    int64_t v = 0;
    bool have_digits = false;
    while (isdigit((unsigned char)*q)) {
        have_digits = true;
        if (v > (INT64_MAX - 9) / 10) {
            v = -1;
            break;
        }
        v = v * 10 + (*q++ - '0');
    }
    while (*q == ' ')
        q++;
    const char *unit = q;
    size_t ul = strlen(unit);
    while (ul > 0 && unit[ul - 1] == ' ')
        ul--;
    if (ul > 1 && (unit[ul - 1] == 's' || unit[ul - 1] == 'S'))
        ul--;
    static const struct {
        const char *name;
        int64_t us;
    } units[] = {{"second", US_SEC},
                 {"minute", US_MIN},
                 {"hour", US_HOUR},
                 {"day", US_DAY},
                 {"week", US_WEEK}};
    int64_t mult = 0;
    for (size_t k = 0; k < sizeof(units) / sizeof(units[0]); k++)
        if (ul == strlen(units[k].name) && strncasecmp(unit, units[k].name, ul) == 0)
            mult = units[k].us;
    if (!have_digits || mult == 0) {
        rc = perr(p->err, p->src, t->off,
                  "invalid interval '%.30s' (write a whole number and a unit: second, minute, "
                  "hour, day or week, e.g. interval '7 days')",
                  s);
    } else if (v < 0 || __builtin_mul_overflow(v, mult, us)) {
        rc = perr(p->err, p->src, t->off, "interval '%.30s' is too large", s);
    } else if (neg) {
        *us = -*us;
    }
    free(s);
    return rc;
}

static struct node *parse_number(struct parser *p, bool negate, size_t off)
{
    const struct tok *t = peek(p);
    char buf[128];
    if (t->len >= sizeof(buf)) {
        perr(p->err, p->src, t->off, "number '%.20s...' is too long", p->src + t->off);
        return NULL;
    }
    snprintf(buf, sizeof(buf), "%s%.*s", negate ? "-" : "", (int)t->len, p->src + t->off);
    struct node *n = new_node(p, N_LIT, off);
    if (!n)
        return NULL;
    errno = 0;
    if (t->t == T_INT) {
        n->lit.type = PX_VAL_INT;
        n->lit.i = strtoll(buf, NULL, 10);
    } else {
        n->lit.type = PX_VAL_FLOAT;
        n->lit.f = strtod(buf, NULL);
        if (errno == ERANGE && fabs(n->lit.f) < 1)
            errno = 0; /* underflow to (nearly) zero is fine */
    }
    if (errno == ERANGE) {
        perr(p->err, p->src, t->off, "number %.40s is out of range", buf);
        return NULL;
    }
    p->i++;
    return n;
}

static struct node *parse_case(struct parser *p)
{
    struct node *n = new_node(p, N_CASE, peek(p)->off);
    if (!n)
        return NULL;
    p->i++; /* CASE */
    if (!is_kw(p, "when")) {
        struct node *subj = parse_or(p);
        if (!subj)
            return NULL;
        n->has_subj = true;
        add_kid(n, subj);
    }
    if (!is_kw(p, "when")) {
        expected(p, "WHEN after CASE");
        return NULL;
    }
    while (accept_kw(p, "when")) {
        struct node *c = parse_or(p);
        if (!c)
            return NULL;
        if (!accept_kw(p, "then")) {
            expected(p, "THEN after the WHEN condition");
            return NULL;
        }
        struct node *v = parse_or(p);
        if (!v)
            return NULL;
        add_kid(n, c);
        add_kid(n, v);
    }
    if (accept_kw(p, "else")) {
        struct node *e = parse_or(p);
        if (!e)
            return NULL;
        add_kid(n, e);
        n->has_else = true;
    }
    if (!accept_kw(p, "end")) {
        expected(p, n->has_else ? "END to close the CASE" : "WHEN, ELSE or END in the CASE");
        return NULL;
    }
    return n;
}

static struct node *parse_primary(struct parser *p)
{
    const struct tok *t = peek(p);
    struct node *n;
    switch (t->t) {
    case T_INT:
    case T_DEC:
        return parse_number(p, false, t->off);
    case T_STR:
        n = new_node(p, N_LIT, t->off);
        if (!n)
            return NULL;
        n->lit.type = PX_VAL_STRING;
        n->lit.s = unquote(p, t);
        p->i++;
        return n;
    case T_QIDENT:
    case T_IDENT:
        if (t->t == T_IDENT && is_reserved(p, t)) {
            if (tok_kw(p, t, "true") || tok_kw(p, t, "false") || tok_kw(p, t, "null")) {
                n = new_node(p, N_LIT, t->off);
                if (!n)
                    return NULL;
                n->lit.type = tok_kw(p, t, "null") ? PX_VAL_NULL : PX_VAL_BOOL;
                n->lit.b = tok_kw(p, t, "true");
                p->i++;
                return n;
            }
            if (tok_kw(p, t, "interval")) {
                const struct tok *s = peek2(p);
                if (s->t != T_STR) {
                    p->i++;
                    expected(p, "a quoted amount after INTERVAL (e.g. interval '7 days')");
                    return NULL;
                }
                n = new_node(p, N_LIT, t->off);
                if (!n)
                    return NULL;
                n->lit.type = PX_VAL_INTERVAL;
                if (parse_interval(p, s, &n->lit.i))
                    return NULL;
                p->i += 2;
                return n;
            }
            if (tok_kw(p, t, "case"))
                return parse_case(p);
            expected(p, "a value");
            px_error_hint(p->err, "a column named like a keyword must be double-quoted: \"%.*s\"",
                          (int)(t->len > 20 ? 20 : t->len), p->src + t->off);
            return NULL;
        }
        if (t->t == T_IDENT && peek2(p)->t == T_LP)
            return parse_call(p);
        n = new_node(p, N_COL, t->off);
        if (!n)
            return NULL;
        n->name = t->t == T_QIDENT ? unquote(p, t) : px_xstrndup(p->src + t->off, t->len);
        p->i++;
        for (int k = 0; k < p->ex->ncols; k++)
            if (strcmp(p->ex->cols[k], n->name) == 0)
                return n;
        p->ex->cols = px_xrealloc(p->ex->cols, (size_t)(p->ex->ncols + 1) * sizeof(char *));
        p->ex->cols[p->ex->ncols++] = n->name;
        return n;
    case T_LP: {
        size_t open = t->off;
        p->i++;
        n = parse_or(p);
        if (!n)
            return NULL;
        if (peek(p)->t != T_RP) {
            char what[64];
            snprintf(what, sizeof(what), "')' to close the '(' at position %d",
                     px__expr_char_pos(p->src, open));
            expected(p, what);
            return NULL;
        }
        p->i++;
        return n;
    }
    default:
        expected(p, "a value");
        return NULL;
    }
}

static struct node *parse_unary(struct parser *p)
{
    const struct tok *t = peek(p);
    if (t->t != T_MINUS && t->t != T_PLUS)
        return parse_primary(p);
    if (enter(p))
        return NULL;
    p->i++;
    struct node *n;
    if (t->t == T_MINUS && (peek(p)->t == T_INT || peek(p)->t == T_DEC)) {
        n = parse_number(p, true, t->off); /* -9223372036854775808 fits */
    } else {
        struct node *k = parse_unary(p);
        if (t->t == T_PLUS || !k) {
            n = k;
        } else {
            n = new_node(p, N_NEG, t->off);
            if (n)
                add_kid(n, k);
        }
    }
    p->depth--;
    return n;
}

static struct node *parse_mul(struct parser *p)
{
    struct node *l = parse_unary(p);
    while (l && (peek(p)->t == T_STAR || peek(p)->t == T_SLASH || peek(p)->t == T_PCT)) {
        const struct tok *op = peek(p);
        p->i++;
        struct node *r = parse_unary(p);
        l = r ? binary(p, N_BIN, op->t, op->off, l, r) : NULL;
    }
    return l;
}

static struct node *parse_add(struct parser *p)
{
    struct node *l = parse_mul(p);
    while (l && (peek(p)->t == T_PLUS || peek(p)->t == T_MINUS || peek(p)->t == T_CONCAT)) {
        const struct tok *op = peek(p);
        p->i++;
        struct node *r = parse_mul(p);
        l = r ? binary(p, N_BIN, op->t, op->off, l, r) : NULL;
    }
    return l;
}

/* True when the next tokens start a comparison (for the "do not chain" check). */
static bool at_comparison(const struct parser *p)
{
    if (px__expr_is_cmp_tok(peek(p)->t) || is_kw(p, "is") || is_kw(p, "in") || is_kw(p, "like") ||
        is_kw(p, "between"))
        return true;
    const struct tok *n2 = peek2(p);
    return is_kw(p, "not") &&
           (tok_kw(p, n2, "in") || tok_kw(p, n2, "like") || tok_kw(p, n2, "between"));
}

static struct node *parse_cmp(struct parser *p)
{
    struct node *l = parse_add(p);
    if (!l || !at_comparison(p))
        return l;
    const struct tok *op = peek(p);
    struct node *n = NULL;
    if (px__expr_is_cmp_tok(op->t)) {
        p->i++;
        struct node *r = parse_add(p);
        n = r ? binary(p, N_BIN, op->t, op->off, l, r) : NULL;
    } else if (accept_kw(p, "is")) {
        bool neg = accept_kw(p, "not");
        if (!accept_kw(p, "null")) {
            expected(p, neg ? "NULL after IS NOT" : "NULL or NOT NULL after IS");
            return NULL;
        }
        n = new_node(p, N_ISNULL, op->off);
        if (!n)
            return NULL;
        n->neg = neg;
        add_kid(n, l);
    } else {
        bool neg = accept_kw(p, "not");
        if (accept_kw(p, "in")) {
            if (peek(p)->t != T_LP) {
                expected(p, "'(' after IN");
                return NULL;
            }
            p->i++;
            n = new_node(p, N_IN, op->off);
            if (!n)
                return NULL;
            n->neg = neg;
            add_kid(n, l);
            for (;;) {
                struct node *v = parse_or(p);
                if (!v)
                    return NULL;
                add_kid(n, v);
                if (peek(p)->t == T_COMMA) {
                    p->i++;
                    continue;
                }
                if (peek(p)->t != T_RP) {
                    expected(p, "')' after the IN list");
                    return NULL;
                }
                p->i++;
                break;
            }
        } else if (accept_kw(p, "like")) {
            struct node *r = parse_add(p);
            n = r ? binary(p, N_LIKE, T_END, op->off, l, r) : NULL;
            if (n)
                n->neg = neg;
        } else if (accept_kw(p, "between")) {
            struct node *lo = parse_add(p);
            if (!lo)
                return NULL;
            if (!accept_kw(p, "and")) {
                expected(p, "AND in BETWEEN ... AND ...");
                return NULL;
            }
            struct node *hi = parse_add(p);
            if (!hi)
                return NULL;
            n = binary(p, N_BETWEEN, T_END, op->off, l, lo);
            if (n) {
                add_kid(n, hi);
                n->neg = neg;
            }
        }
    }
    if (n && at_comparison(p)) {
        perr(p->err, p->src, peek(p)->off,
             "comparisons cannot be chained; combine them with AND (a < b AND b < c)");
        return NULL;
    }
    return n;
}

static struct node *parse_not(struct parser *p)
{
    if (!is_kw(p, "not"))
        return parse_cmp(p);
    size_t off = peek(p)->off;
    if (enter(p))
        return NULL;
    p->i++;
    struct node *k = parse_not(p);
    p->depth--;
    if (!k)
        return NULL;
    struct node *n = new_node(p, N_NOT, off);
    if (n)
        add_kid(n, k);
    return n;
}

static struct node *parse_and(struct parser *p)
{
    struct node *l = parse_not(p);
    while (l && is_kw(p, "and")) {
        size_t off = peek(p)->off;
        p->i++;
        struct node *r = parse_not(p);
        l = r ? binary(p, N_BIN, T_IDENT, off, l, r) : NULL;
    }
    return l;
}

static struct node *parse_or(struct parser *p)
{
    if (enter(p))
        return NULL;
    struct node *l = parse_and(p);
    while (l && is_kw(p, "or")) {
        size_t off = peek(p)->off;
        p->i++;
        struct node *r = parse_and(p);
        l = r ? binary(p, N_BIN, T_QIDENT, off, l, r) : NULL;
    }
    p->depth--;
    return l;
}

int px_expr_parse(const char *text, struct px_expr **out, struct px_error *err)
{
    *out = NULL;
    if (!text)
        return px_error_set(err, PX_EINVALID, "expression: missing");
    size_t len = strlen(text);
    if (len > PX_EXPR_MAX_LEN)
        return px_error_set(err, PX_EINVALID, "expression: too long (%zu characters; at most %d)",
                            len, PX_EXPR_MAX_LEN);
    struct tok *toks;
    size_t ntok;
    int rc = lex(text, &toks, &ntok, err);
    if (rc)
        return rc;
    struct px_expr *ex = px_xcalloc(1, sizeof(*ex));
    ex->text = px_xstrdup(text);
    struct parser p = {.src = ex->text, .toks = toks, .ex = ex, .err = err};
    if (toks[0].t == T_END) {
        rc = px_error_set(err, PX_EINVALID, "expression: empty");
    } else {
        ex->root = parse_or(&p);
        if (!ex->root) {
            rc = -PX_EINVALID;
        } else if (peek(&p)->t != T_END) {
            char found[40];
            describe(&p, peek(&p), found, sizeof(found));
            if (peek(&p)->t == T_RP)
                rc = perr(err, p.src, peek(&p)->off, "unmatched ')'");
            else
                rc = perr(err, p.src, peek(&p)->off,
                          "unexpected %s after a complete expression (missing an operator such "
                          "as AND?)",
                          found);
        }
    }
    free(toks);
    if (rc) {
        px_expr_free(ex);
        return rc;
    }
    *out = ex;
    return 0;
}
