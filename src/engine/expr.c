/*
 * Expression language (see expr.h): a lexer that turns the whole text into tokens first, a
 * recursive-descent parser with one function per precedence level, and a tree-walking
 * evaluator. Every node is also kept in a flat list owned by the expression, so a failed
 * parse frees whatever it built in one loop and nothing recurses on free.
 */
#include "engine/expr.h"

#include "base/buf.h"
#include "base/civil.h"
#include "base/err.h"
#include "base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define US_SEC INT64_C(1000000)
#define US_MIN (60 * US_SEC)
#define US_HOUR (60 * US_MIN)
#define US_DAY (24 * US_HOUR)
#define US_WEEK (7 * US_DAY)

/* ---- tokens ------------------------------------------------------------------------------ */

enum tk {
    T_END,
    T_INT,
    T_DEC,
    T_STR,
    T_IDENT,
    T_QIDENT,
    T_LP,
    T_RP,
    T_COMMA,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PCT,
    T_CONCAT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
};

struct tok {
    enum tk t;
    size_t off, len;
};

/* ---- tree -------------------------------------------------------------------------------- */

enum nkind { N_LIT, N_COL, N_NEG, N_NOT, N_BIN, N_ISNULL, N_IN, N_LIKE, N_BETWEEN, N_CASE, N_CALL };

enum fn {
    F_NOW,
    F_LOWER,
    F_UPPER,
    F_LENGTH,
    F_TRIM,
    F_SUBSTR,
    F_COALESCE,
    F_ABS,
    F_ROUND,
    F_DATE_TRUNC,
    F_TO_TIMESTAMP,
    F_TO_DATE,
};

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

struct node {
    enum nkind kind;
    enum tk op;    /* N_BIN: the operator token; T_IDENT for AND, T_QIDENT for OR */
    size_t off;    /* byte offset of the operator or first token, for messages */
    bool neg;      /* NOT IN / NOT LIKE / NOT BETWEEN / IS NOT NULL */
    bool has_else; /* N_CASE */
    bool has_subj; /* N_CASE: CASE x WHEN ... */
    enum fn fn;    /* N_CALL */
    int nkids;     /* children in kids */
    int capkids;   /* allocated */
    struct node **kids;
    struct px_value lit; /* N_LIT (string owned) */
    char *name;          /* N_COL */
};

struct px_expr {
    char *text;
    struct node *root;
    struct node **all;
    int nall;
    char **cols;
    int ncols;
};

/* ---- messages ---------------------------------------------------------------------------- */

/* 1-based character position of byte offset off (UTF-8 continuation bytes do not count). */
static int char_pos(const char *s, size_t off)
{
    int n = 1;
    for (size_t i = 0; i < off && s[i]; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

__attribute__((format(printf, 4, 5))) static int perr(struct px_error *err, const char *src,
                                                      size_t off, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return px_error_set(err, PX_EINVALID, "expression: at position %d: %s", char_pos(src, off),
                        msg);
}

/* ---- lexer ------------------------------------------------------------------------------- */

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
                        c == '\'' ? "string" : "quoted column name", char_pos(src, start));
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

/* ---- parser ------------------------------------------------------------------------------ */

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

static const char *const trunc_units[] = {"second", "minute", "hour", "day",
                                          "week",   "month",  "year"};

static int trunc_unit(const char *s)
{
    for (size_t k = 0; k < sizeof(trunc_units) / sizeof(trunc_units[0]); k++)
        if (strcasecmp(s, trunc_units[k]) == 0)
            return (int)k;
    return -1;
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
        trunc_unit(n->kids[0]->lit.s) < 0) {
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
                     char_pos(p->src, open));
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

static bool is_cmp_tok(enum tk t)
{
    return t == T_EQ || t == T_NE || t == T_LT || t == T_LE || t == T_GT || t == T_GE;
}

/* True when the next tokens start a comparison (for the "do not chain" check). */
static bool at_comparison(const struct parser *p)
{
    if (is_cmp_tok(peek(p)->t) || is_kw(p, "is") || is_kw(p, "in") || is_kw(p, "like") ||
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
    if (is_cmp_tok(op->t)) {
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

void px_expr_columns(const struct px_expr *expr, px_expr_column_fn fn, void *ctx)
{
    for (int k = 0; k < expr->ncols; k++)
        fn(ctx, expr->cols[k]);
}

/* ---- values ------------------------------------------------------------------------------ */

void px_value_clear(struct px_value *v)
{
    if (v->type == PX_VAL_STRING)
        free(v->s);
    memset(v, 0, sizeof(*v));
}

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
            strcat(tmp, ".0");
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

/* ---- evaluator --------------------------------------------------------------------------- */

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
                        char_pos(c->ex->text, n->off), msg);
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
    return eerr(c, n, "%s() needs %s %s, got %s", fns[n->fn].name, t == PX_VAL_INT ? "an" : "a",
                what, type_name(v->type));
}

static int to_ts_value(struct evalctx *c, const struct node *n, struct px_value *v)
{
    if (v->type == PX_VAL_STRING)
        return as_timestamp(c, n, v);
    if (v->type == PX_VAL_INT || v->type == PX_VAL_FLOAT) {
        double us = num(v) * 1e6;
        if (!(us > -9.2e18 && us < 9.2e18))
            return eerr(c, n, "%s(): %g seconds is out of range", fns[n->fn].name, num(v));
        v->i = (int64_t)llround(us);
        v->type = PX_VAL_TIMESTAMP;
        return 0;
    }
    if (v->type != PX_VAL_TIMESTAMP)
        return eerr(c, n, "%s() needs a timestamp, a string or epoch seconds, got %s",
                    fns[n->fn].name, type_name(v->type));
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
        int unit = trunc_unit(a.s);
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
        if (is_cmp_tok(n->op)) {
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

int px_expr_eval(const struct px_expr *expr, px_expr_row_fn row, void *ctx, int64_t now_us,
                 struct px_value *out, struct px_error *err)
{
    struct evalctx c = {.ex = expr, .row = row, .ctx = ctx, .now = now_us, .err = err};
    int rc = eval(&c, expr->root, out);
    if (rc)
        px_value_clear(out);
    return rc;
}

/* ---- simple predicates (pushdown) ---------------------------------------------------------- */

static int no_row(void *ctx, const char *column, struct px_value *out)
{
    (void)ctx;
    (void)column;
    (void)out;
    return -PX_ENOTFOUND;
}

/* Folds a column-free subtree to a constant: 0 and *out (owned), or negative. */
static int fold(const struct px_expr *expr, const struct node *n, int64_t now_us,
                struct px_value *out)
{
    struct px_error err;
    struct evalctx c = {.ex = expr, .row = no_row, .now = now_us, .err = &err};
    int rc = eval(&c, n, out);
    if (rc)
        px_value_clear(out);
    return rc;
}

static enum px_pred_op pred_op(enum tk op, bool flip, bool *ok)
{
    *ok = true;
    switch (op) {
    case T_EQ:
        return PX_PRED_EQ;
    case T_NE:
        return PX_PRED_NE;
    case T_LT:
        return flip ? PX_PRED_GT : PX_PRED_LT;
    case T_LE:
        return flip ? PX_PRED_GE : PX_PRED_LE;
    case T_GT:
        return flip ? PX_PRED_LT : PX_PRED_GT;
    case T_GE:
        return flip ? PX_PRED_LE : PX_PRED_GE;
    default:
        *ok = false;
        return PX_PRED_EQ;
    }
}

static void emit(const char *column, enum px_pred_op op, struct px_value *vals, int n,
                 px_pred_fn fn, void *ctx)
{
    struct px_pred p = {.column = column, .op = op, .nvals = n, .vals = vals};
    bool nulls = false;
    for (int k = 0; k < n; k++)
        nulls |= vals[k].type == PX_VAL_NULL;
    if (!nulls) /* `x = NULL` is never true: leave such oddities to the filter */
        fn(ctx, &p);
    for (int k = 0; k < n; k++)
        px_value_clear(&vals[k]);
}

static void preds(const struct px_expr *expr, const struct node *n, int64_t now_us, px_pred_fn fn,
                  void *ctx)
{
    struct px_value v[PX_PRED_MAX_VALUES];
    memset(v, 0, sizeof(v));
    if (n->kind == N_BIN && n->op == T_IDENT) { /* AND */
        preds(expr, n->kids[0], now_us, fn, ctx);
        preds(expr, n->kids[1], now_us, fn, ctx);
    } else if (n->kind == N_BIN) {
        bool ok, left = n->kids[0]->kind == N_COL;
        const struct node *col = n->kids[left ? 0 : 1], *cst = n->kids[left ? 1 : 0];
        enum px_pred_op op = pred_op(n->op, !left, &ok);
        if (ok && col->kind == N_COL && fold(expr, cst, now_us, &v[0]) == 0)
            emit(col->name, op, v, 1, fn, ctx);
    } else if (n->kind == N_ISNULL && n->kids[0]->kind == N_COL) {
        emit(n->kids[0]->name, n->neg ? PX_PRED_NOT_NULL : PX_PRED_IS_NULL, v, 0, fn, ctx);
    } else if (n->kind == N_IN && !n->neg && n->kids[0]->kind == N_COL &&
               n->nkids - 1 <= PX_PRED_MAX_VALUES) {
        int k = 1;
        for (; k < n->nkids && fold(expr, n->kids[k], now_us, &v[k - 1]) == 0; k++)
            ;
        if (k == n->nkids) {
            emit(n->kids[0]->name, PX_PRED_IN, v, n->nkids - 1, fn, ctx);
        } else {
            for (int j = 0; j < k - 1; j++)
                px_value_clear(&v[j]);
        }
    } else if (n->kind == N_BETWEEN && !n->neg && n->kids[0]->kind == N_COL) {
        if (fold(expr, n->kids[1], now_us, &v[0]) == 0)
            emit(n->kids[0]->name, PX_PRED_GE, v, 1, fn, ctx);
        if (fold(expr, n->kids[2], now_us, &v[0]) == 0)
            emit(n->kids[0]->name, PX_PRED_LE, v, 1, fn, ctx);
    }
}

void px_expr_preds(const struct px_expr *expr, int64_t now_us, px_pred_fn fn, void *ctx)
{
    preds(expr, expr->root, now_us, fn, ctx);
}
