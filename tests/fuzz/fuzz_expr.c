/*
 * Fuzz target: filter/derive expressions (src/engine/expr/). The input, NUL-terminated, goes
 * to px_expr_parse; a parsed expression is evaluated over a fixed row whose columns have every
 * value type (a column's type comes from its first letter; names starting with 'z' are
 * unknown). Invariants checked besides memory safety: a refused expression returns
 * -PX_EINVALID, leaves *out NULL and has a message starting "expression: " and no field; the
 * same input gives the same result with a NULL err; px_expr_columns lists distinct names;
 * evaluation returns 0 or -PX_EINVALID, a failed one leaves the value NULL, and a result
 * renders.
 */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "engine/expr/expr.h"

#include <string.h>

static char text_value[] = "Ab%_ ïx";

static int row(void *ctx, const char *column, struct px_value *out)
{
    (void)ctx;
    memset(out, 0, sizeof(*out));
    switch (column[0] | 0x20) {
    case 'z':
        return -PX_ENOTFOUND;
    case 'b':
        out->type = PX_VAL_BOOL;
        out->b = strlen(column) % 2;
        break;
    case 'i':
        out->type = PX_VAL_INT;
        out->i = strlen(column) > 3 ? INT64_MIN : -7;
        break;
    case 'f':
        out->type = PX_VAL_FLOAT;
        out->f = 2.5;
        break;
    case 's':
        out->type = PX_VAL_STRING;
        out->s = text_value;
        break;
    case 't':
        out->type = PX_VAL_TIMESTAMP;
        out->i = strlen(column) > 3 ? INT64_MAX - 5 : 1700000000000000;
        break;
    case 'v':
        out->type = PX_VAL_INTERVAL;
        out->i = 86400000000;
        break;
    default:
        out->type = PX_VAL_NULL;
        break;
    }
    return 0;
}

struct seen {
    char names[64][64];
    int n;
};

static void on_column(void *ctx, const char *column)
{
    struct seen *s = ctx;
    for (int k = 0; k < s->n && k < 64; k++)
        FUZZ_CHECK(strncmp(s->names[k], column, 63) != 0 || strlen(column) >= 63);
    if (s->n < 64)
        snprintf(s->names[s->n], sizeof(s->names[0]), "%s", column);
    s->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 5000)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        abort();
    memcpy(text, data, size);
    text[size] = '\0';

    struct px_expr *ex = NULL;
    struct px_error err;
    px_error_clear(&err);
    int rc = px_expr_parse(text, &ex, &err);
    struct px_expr *ex2 = NULL;
    FUZZ_CHECK(px_expr_parse(text, &ex2, NULL) == rc);
    px_expr_free(ex2);
    if (rc != 0) {
        FUZZ_CHECK(rc == -PX_EINVALID && err.code == PX_EINVALID);
        FUZZ_CHECK(ex == NULL);
        FUZZ_CHECK(strncmp(err.message, "expression: ", 12) == 0);
        FUZZ_CHECK(err.field[0] == '\0');
        free(text);
        return 0;
    }
    FUZZ_CHECK(ex != NULL && err.code == 0);
    struct seen seen = {.n = 0};
    px_expr_columns(ex, on_column, &seen);

    struct px_value v;
    rc = px_expr_eval(ex, row, NULL, 1705320000000000, &v, &err);
    if (rc != 0) {
        FUZZ_CHECK(rc == -PX_EINVALID);
        FUZZ_CHECK(v.type == PX_VAL_NULL);
        FUZZ_CHECK(strncmp(err.message, "expression: at position ", 24) == 0);
    } else {
        struct px_buf b;
        px_buf_init(&b, 1 << 20);
        FUZZ_CHECK(px_value_render(&v, &b) == 0);
        px_buf_cleanup(&b);
        px_value_clear(&v);
    }
    FUZZ_CHECK(px_expr_eval(ex, row, NULL, 1705320000000000, &v, NULL) == rc);
    px_value_clear(&v);
    px_expr_free(ex);
    free(text);
    return 0;
}
