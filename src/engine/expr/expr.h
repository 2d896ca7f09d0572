/*
 * The expression language of filter conditions and derive expressions (DESIGN §3.6): a small
 * SQL-like language parsed into an owned tree, with static information (the columns used) and
 * a scalar evaluator with SQL three-valued logic.
 *
 * Grammar, lowest precedence first (keywords and function names are case-insensitive):
 *   expr    := or
 *   or      := and (OR and)*
 *   and     := not (AND not)*
 *   not     := NOT not | cmp
 *   cmp     := add [ (= | != | <> | < | <= | > | >=) add
 *                  | IS [NOT] NULL | [NOT] IN '(' expr (',' expr)* ')'
 *                  | [NOT] LIKE add | [NOT] BETWEEN add AND add ]     (comparisons do not chain)
 *   add     := mul ((+ | - | '||') mul)*
 *   mul     := unary ((* | / | %) unary)*
 *   unary   := (- | +) unary | primary
 *   primary := integer | decimal | 'string' ('' is a quote) | TRUE | FALSE | NULL
 *            | INTERVAL 'N unit' (unit: second(s), minute(s), hour(s), day(s), week(s))
 *            | column | "quoted column" ("" is a quote) | '(' expr ')'
 *            | CASE [expr] (WHEN expr THEN expr)+ [ELSE expr] END
 *            | function '(' [expr (',' expr)*] ')'
 * Functions: now(), lower(s), upper(s), length(s), trim(s), substr(s, start[, len]),
 * coalesce(x, ...), abs(x), round(x[, digits]), date_trunc(unit, ts), to_timestamp(x),
 * to_date(x). Reserved words (AND OR NOT IS NULL IN LIKE BETWEEN CASE WHEN THEN ELSE END TRUE
 * FALSE INTERVAL) name a column only when double-quoted. Column names are case-sensitive.
 *
 * Limits: at most PX_EXPR_MAX_LEN bytes, PX_EXPR_MAX_DEPTH levels of nesting (parentheses,
 * calls, CASE, unary operators) and PX_EXPR_MAX_NODES tree nodes. Errors are -PX_EINVALID
 * with a message "expression: at position N: <problem>" (N is the 1-based character
 * position); err->field is left for the caller to set.
 *
 * Implementation: engine/expr/parse.c (lexer, parser), engine/expr/eval.c (evaluator),
 * engine/expr/preds.c (simple predicates), engine/expr/expr.c (values, the tree's lifetime),
 * sharing the private engine/expr/expr_int.h.
 */
#ifndef PX_ENGINE_EXPR_H
#define PX_ENGINE_EXPR_H

#include <stdbool.h>
#include <stdint.h>

struct px_buf;
struct px_error;

#define PX_EXPR_MAX_LEN 4096
#define PX_EXPR_MAX_DEPTH 64
#define PX_EXPR_MAX_NODES 1000

enum px_value_type {
    PX_VAL_NULL = 0,
    PX_VAL_BOOL,
    PX_VAL_INT,
    PX_VAL_FLOAT,
    PX_VAL_STRING,
    PX_VAL_TIMESTAMP, /* i: microseconds since 1970-01-01T00:00:00Z */
    PX_VAL_INTERVAL,  /* i: microseconds */
};

/* A scalar. Whether s is owned depends on where the value comes from (see below). */
struct px_value {
    enum px_value_type type;
    bool b;
    int64_t i; /* INT, TIMESTAMP, INTERVAL */
    double f;
    char *s; /* STRING: NUL-terminated UTF-8 */
};

/* Frees an owned string value and makes v NULL. Safe on any value from px_expr_eval. */
void px_value_clear(struct px_value *v);

/* Renders v as text: NULL, true, 42, 1.5 (a decimal always shows a '.' or an exponent),
 * 'it''s' (strings quoted SQL-style), 2024-01-31T12:00:00Z (timestamps, with .ffffff when
 * not whole seconds), interval '7 days'. 0 or -PX_ETOOLARGE from the buffer. */
int px_value_render(const struct px_value *v, struct px_buf *out);

/* Parses "2024-01-31", "2024-01-31 12:00[:00[.ffffff]]" or with 'T', optionally ending in
 * 'Z' or +hh:mm / -hh:mm, into microseconds since the epoch (UTC). 0 or -PX_EINVALID. */
int px_expr_parse_timestamp(const char *s, int64_t *us_out);

struct px_expr;

/* Parses text (NUL-terminated). On success returns 0 and an owned tree in *out (free with
 * px_expr_free); on failure -PX_EINVALID, *out NULL and err filled. */
int px_expr_parse(const char *text, struct px_expr **out, struct px_error *err);
void px_expr_free(struct px_expr *expr);

/* Calls fn once per distinct column the expression references, in order of first use. */
typedef void (*px_expr_column_fn)(void *ctx, const char *column);
void px_expr_columns(const struct px_expr *expr, px_expr_column_fn fn, void *ctx);

/* Looks up a column of the current row. Returns 0 with *out filled (a STRING's s is borrowed
 * and must stay valid until px_expr_eval returns), or -PX_ENOTFOUND for no such column. */
typedef int (*px_expr_row_fn)(void *ctx, const char *column, struct px_value *out);

/* Evaluates expr over one row; now() is now_us. On success returns 0 and *out, whose string
 * (if any) is owned by the caller: release it with px_value_clear. On failure (type errors,
 * division by zero, overflow, unknown column) returns -PX_EINVALID with a message naming the
 * position, and *out is NULL. NULL propagates through operators and functions (except IS
 * NULL, coalesce, CASE, and AND/OR per SQL). int op int stays int (/ truncates), a decimal
 * operand makes a decimal; timestamp +/- interval is a timestamp, timestamp - timestamp an
 * interval; a string compared with a timestamp is read as a timestamp. lower/upper change
 * ASCII letters only; length and substr count characters. */
int px_expr_eval(const struct px_expr *expr, px_expr_row_fn row, void *ctx, int64_t now_us,
                 struct px_value *out, struct px_error *err);

/* Simple predicates, for pushing a filter down into a SQL source: the conjuncts of expr's
 * top-level AND that have the form `column op constant` (either side; op one of = <> < <= >
 * >=), `column IS [NOT] NULL`, `column IN (constants)` or `column BETWEEN c1 AND c2` (as two
 * predicates). Constants are folded at now_us (now() - interval '7 days' is a timestamp); a
 * conjunct that does not fold is left out. Each predicate is handed to fn, whose values are
 * borrowed for the call. Rows failing a reported predicate fail the whole expression, so a
 * source may drop them before the filter sees them. */
enum px_pred_op {
    PX_PRED_EQ,
    PX_PRED_NE,
    PX_PRED_LT,
    PX_PRED_LE,
    PX_PRED_GT,
    PX_PRED_GE,
    PX_PRED_IS_NULL,
    PX_PRED_NOT_NULL,
    PX_PRED_IN
};
#define PX_PRED_MAX_VALUES 64
struct px_pred {
    const char *column;
    enum px_pred_op op;
    int nvals; /* 1 for comparisons, 0 for IS [NOT] NULL, up to PX_PRED_MAX_VALUES for IN */
    const struct px_value *vals;
};
typedef void (*px_pred_fn)(void *ctx, const struct px_pred *p);
void px_expr_preds(const struct px_expr *expr, int64_t now_us, px_pred_fn fn, void *ctx);

#endif
