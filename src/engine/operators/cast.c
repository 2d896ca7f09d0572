/*
 * cast (exec_int.h): a streaming operator that converts columns to a type. NULL stays NULL. integer
 * from float only when the value is whole and in range, from boolean as 0/1, from text as a full
 * decimal integer (surrounding blanks allowed); float from integer or text; boolean from integer
 * 0/1 or text true/false/t/f/yes/no/1/0 (any case); timestamp from text (px_expr_parse_timestamp: a
 * date, a date and time, optionally Z or ±hh:mm); date is a timestamp truncated to 00:00:00 UTC;
 * string from anything (timestamps as 2024-01-31T12:00:00Z, floats with the fewest digits that read
 * back). A value that does not convert fails the run with the row, the column and the value
 * (truncated to 64 bytes).
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/text.h"
#include "engine/batch.h"
#include "engine/celltext.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"

#include <string.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <strings.h>
#include <stdlib.h>

#define US_SEC 1000000LL
#define US_DAY 86400000000LL

/* ---- cast ---- */

enum cast_to { TO_STRING, TO_INT, TO_FLOAT, TO_BOOL, TO_DATE, TO_TIMESTAMP };

struct castcol {
    char *name;
    enum cast_to to;
};

struct castop {
    struct castcol *cols;
    int n;
};

static int cast_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    static const char *names[] = {"string", "integer", "float", "boolean", "date", "timestamp"};
    struct json_object *cols = px_json_get(ctx->config, "columns");
    struct castop *s = px_xcalloc(1, sizeof(*s));
    s->cols = px_xcalloc((size_t)json_object_object_length(cols) + 1, sizeof(*s->cols));
    json_object_object_foreach(cols, name, jt)
    {
        const char *t = json_object_get_string(jt);
        int k = 0;
        while (k < 6 && strcmp(names[k], t) != 0)
            k++;
        if (k == 6) {
            for (int i = 0; i < s->n; i++)
                free(s->cols[i].name);
            free(s->cols);
            free(s);
            return px_error_set(err, PX_EINVALID, "column '%.200s': unknown type '%.40s'", name, t);
        }
        s->cols[s->n].name = px_xstrdup(name);
        s->cols[s->n].to = (enum cast_to)k;
        s->n++;
    }
    *state_out = s;
    return 0;
}

static void cast_close(void *state)
{
    struct castop *s = state;
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        free(s->cols[i].name);
    free(s->cols);
    free(s);
}

static bool only_blank(const char *p)
{
    return *px_text_skip_space(p) == '\0';
}

static bool parse_int(const char *s, int64_t *out)
{
    const char *p = px_text_skip_space(s);
    if (!*p)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || !only_blank(end))
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, double *out)
{
    const char *p = px_text_skip_space(s);
    if (!*p)
        return false;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (errno == ERANGE || end == p || !only_blank(end) || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, uint8_t *out)
{
    static const char *t[] = {"true", "t", "yes", "y", "1"}, *f[] = {"false", "f", "no", "n", "0"};
    char w[8];
    const char *p = px_text_skip_space(s);
    size_t n = 0;
    while (p[n] && !isspace((unsigned char)p[n]) && n < sizeof(w) - 1) {
        w[n] = p[n];
        n++;
    }
    w[n] = '\0';
    if (!only_blank(p + n))
        return false;
    for (size_t k = 0; k < 5; k++) {
        if (strcasecmp(w, t[k]) == 0) {
            *out = 1;
            return true;
        }
        if (strcasecmp(w, f[k]) == 0) {
            *out = 0;
            return true;
        }
    }
    return false;
}

static int64_t floor_day(int64_t us)
{
    int64_t d = us / US_DAY;
    if (us % US_DAY < 0)
        d--;
    return d * US_DAY;
}

/* Converts cell (c, r) into column dc; false when it does not convert. */
static bool cast_cell(struct px_batch *b, int c, int64_t r, int dc, enum cast_to to,
                      struct px_buf *text)
{
    const struct px_column *src = &b->cols[c];
    struct px_column *dst = &b->cols[dc];
    const char *s = src->type == PX_COL_STRING ? src->v.s[r] : NULL;
    switch (to) {
    case TO_STRING:
        if (px_celltext_buf(b, c, r, text) < 0)
            return false;
        dst->v.s[r] = px_batch_strdup(b, text->data ? text->data : "", text->len);
        break;
    case TO_INT:
        if (src->type == PX_COL_INT)
            dst->v.i[r] = src->v.i[r];
        else if (src->type == PX_COL_BOOL)
            dst->v.i[r] = src->v.b[r];
        else if (src->type == PX_COL_FLOAT) {
            double f = src->v.f[r];
            if (!(f == floor(f) && f >= -9.2233720368547758e18 && f < 9.2233720368547758e18))
                return false;
            dst->v.i[r] = (int64_t)f;
        } else if (!s || !parse_int(s, &dst->v.i[r]))
            return false;
        break;
    case TO_FLOAT:
        if (src->type == PX_COL_FLOAT)
            dst->v.f[r] = src->v.f[r];
        else if (src->type == PX_COL_INT)
            dst->v.f[r] = (double)src->v.i[r];
        else if (!s || !parse_float(s, &dst->v.f[r]))
            return false;
        break;
    case TO_BOOL:
        if (src->type == PX_COL_BOOL)
            dst->v.b[r] = src->v.b[r];
        else if (src->type == PX_COL_INT && (src->v.i[r] == 0 || src->v.i[r] == 1))
            dst->v.b[r] = (uint8_t)src->v.i[r];
        else if (!s || !parse_bool(s, &dst->v.b[r]))
            return false;
        break;
    case TO_DATE:
    case TO_TIMESTAMP:
        if (src->type == PX_COL_TIMESTAMP)
            dst->v.i[r] = src->v.i[r];
        else if (!s || px_expr_parse_timestamp(px_text_skip_space(s), &dst->v.i[r]) < 0)
            return false;
        if (to == TO_DATE)
            dst->v.i[r] = floor_day(dst->v.i[r]);
        break;
    }
    px_batch_set_null(dst, r, false);
    return true;
}

static int cast_process(void *state, struct px_batch *b, struct px_error *err)
{
    static const enum px_col_type coltype[] = {PX_COL_STRING, PX_COL_INT,       PX_COL_FLOAT,
                                               PX_COL_BOOL,   PX_COL_TIMESTAMP, PX_COL_TIMESTAMP};
    static const char *tname[] = {"string", "integer", "float", "boolean", "date", "timestamp"};
    struct castop *s = state;
    for (int k = 0; k < s->n; k++)
        if (px_batch_find(b, s->cols[k].name) < 0)
            return px__no_column(b, s->cols[k].name, err);
    struct px_buf text;
    px_buf_init(&text, 1 << 20);
    int rc = 0;
    for (int k = 0; k < s->n && rc == 0; k++) {
        int c = px_batch_find(b, s->cols[k].name);
        enum cast_to to = s->cols[k].to;
        if (b->cols[c].type == coltype[to] && to != TO_DATE)
            continue;
        int dc = px_batch_add_column(b, s->cols[k].name, coltype[to]);
        for (int64_t r = 0; r < b->nrows; r++) {
            if (px_batch_is_null(&b->cols[c], r))
                continue;
            if (cast_cell(b, c, r, dc, to, &text))
                continue;
            if (px_celltext_buf(b, c, r, &text) < 0)
                px_buf_reset(&text);
            const char *v = text.data ? text.data : "";
            px_error_set(err, PX_EINVALID,
                         "column '%.200s': value '%.64s%s' does not convert to %s", s->cols[k].name,
                         v, strlen(v) > 64 ? "…" : "", tname[to]);
            rc = px__row_error(b, r, err);
            break;
        }
        px_batch_settle_column(b, c, dc, rc);
    }
    px_buf_cleanup(&text);
    return rc;
}

const struct px_operator px__op_cast = {
    1, "cast", "Converts columns to other types", cast_open, cast_process, cast_close, NULL};
