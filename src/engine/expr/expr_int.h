/*
 * Private to the expression module (engine/expr/expr.h): include it from engine/expr/expr.c,
 * engine/expr/parse.c, engine/expr/eval.c and engine/expr/preds.c only. Holds what more than one of
 * them needs: the microsecond unit constants, the token kinds (a binary node keeps its operator
 * token), the tree (node kinds, function ids, struct node, struct px_expr) and the few internal
 * functions another file calls, prefixed px__expr_. Everything else stays static in its file.
 */
#ifndef PX_ENGINE_EXPR_INT_H
#define PX_ENGINE_EXPR_INT_H

#include "engine/expr/expr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct px_error;

#define US_SEC INT64_C(1000000)
#define US_MIN (60 * US_SEC)
#define US_HOUR (60 * US_MIN)
#define US_DAY (24 * US_HOUR)
#define US_WEEK (7 * US_DAY)

/* ---- tokens ---------------------------------------------------------------------------------- */

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

/* ---- tree ------------------------------------------------------------------------------------ */

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

/* ---- shared helpers -------------------------------------------------------------------------- */

/* engine/expr/expr.c: 1-based character position of byte offset off in s (UTF-8 continuation bytes
 * do not count), for messages. */
int px__expr_char_pos(const char *s, size_t off);
/* engine/expr/expr.c: true for the comparison operators = != < <= > >=. */
bool px__expr_is_cmp_tok(enum tk t);
/* engine/expr/expr.c: the date_trunc unit named s (case-insensitive): 0 second, 1 minute, 2 hour,
 * 3 day, 4 week, 5 month, 6 year; -1 for none. */
int px__expr_trunc_unit(const char *s);
/* engine/expr/parse.c: the name of function f, as written in expressions ("date_trunc"). */
const char *px__expr_fn_name(enum fn f);

/* engine/expr/eval.c: evaluates the subtree n of expr over one row (row may be NULL: every column
 * is then unknown); now() is now_us. Same contract as px_expr_eval: 0 and *out (owned), or
 * -PX_EINVALID with err filled and *out NULL. */
int px__expr_eval_node(const struct px_expr *expr, const struct node *n, px_expr_row_fn row,
                       void *ctx, int64_t now_us, struct px_value *out, struct px_error *err);

#endif
