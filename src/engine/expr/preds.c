/*
 * Simple predicates of an expression (px_expr_preds in engine/expr/expr.h), for pushing a filter
 * down into a SQL source: walks the top-level AND of the tree and folds the constant side of each
 * `column op constant` conjunct with the evaluator.
 */
#include "engine/expr/expr_int.h"

#include "base/err.h"

#include <string.h>

/* ---- simple predicates (pushdown) ------------------------------------------------------------ */

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
    return px__expr_eval_node(expr, n, no_row, NULL, now_us, out, &err);
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
