/*
 * convert_timezone (exec_int.h): a streaming operator over wall-clock times. A timestamp column
 * holds wall-clock times in from_timezone (for the default, UTC, that is the instant itself); a
 * string column is read as a timestamp, and a value with an explicit Z or ±hh:mm is that instant
 * whatever from_timezone says. A wall-clock time skipped by a forward transition (a gap) maps to
 * the first instant after the gap; one repeated by a backward transition (an overlap) maps to its
 * first (earlier) instant, as Vixie cron does. The output replaces the column with text: the
 * instant as wall-clock time in to_timezone with its offset, "2024-03-10T03:30:00-04:00" (".ffffff"
 * when not whole seconds), which every destination reads back as the same instant.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/text.h"
#include "engine/batch.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"
#include "base/tz.h"

#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include <stdlib.h>

#define US_SEC 1000000LL

/* ---- convert_timezone ---- */

struct tzop {
    char *column;
    struct px_tz *from, *to;
};

static void tz_close(void *state)
{
    struct tzop *s = state;
    if (!s)
        return;
    free(s->column);
    px_tz_free(s->from);
    px_tz_free(s->to);
    free(s);
}

static int tz_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *from = px_json_get_str(ctx->config, "from_timezone");
    struct tzop *s = px_xcalloc(1, sizeof(*s));
    s->column = px_xstrdup(px_json_get_str(ctx->config, "column"));
    int rc = px_tz_load(from ? from : "UTC", &s->from, err);
    if (rc == 0)
        rc = px_tz_load(px_json_get_str(ctx->config, "to_timezone"), &s->to, err);
    if (rc < 0) {
        tz_close(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

/* Whether a timestamp text carries its own offset (Z or ±hh:mm after the time). */
static bool has_offset(const char *s)
{
    const char *p = px_text_skip_space(s);
    size_t n = strlen(p);
    while (n && isspace((unsigned char)p[n - 1]))
        n--;
    if (n <= 10)
        return false;
    if (p[n - 1] == 'Z' || p[n - 1] == 'z')
        return true;
    for (size_t i = 11; i < n; i++)
        if (p[i] == '+' || p[i] == '-')
            return true;
    return false;
}

static int64_t floor_div_s(int64_t us)
{
    int64_t q = us / US_SEC;
    if (us % US_SEC < 0)
        q--;
    return q;
}

/* Wall-clock µs in zone → UTC µs (gap: first instant after; overlap: the first). */
static int64_t local_to_utc(const struct px_tz *tz, int64_t local_us)
{
    int64_t sec = floor_div_s(local_us), frac = local_us - sec * US_SEC, out[2];
    px_tz_local_to_utc(tz, sec, out);
    return out[0] * US_SEC + frac;
}

static int tz_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct tzop *s = state;
    int c = px_batch_find(b, s->column);
    if (c < 0)
        return px__no_column(b, s->column, err);
    enum px_col_type t = b->cols[c].type;
    if (t != PX_COL_TIMESTAMP && t != PX_COL_STRING)
        return px_error_set(err, PX_EINVALID,
                            "column '%.200s' is %s; convert_timezone needs a timestamp or text",
                            s->column, px_col_type_name(t));
    struct px_buf text;
    px_buf_init(&text, 256);
    int rc = 0;
    int dc = px_batch_add_column(b, s->column, PX_COL_STRING);
    for (int64_t r = 0; r < b->nrows && rc == 0; r++) {
        const struct px_column *src = &b->cols[c];
        if (px_batch_is_null(src, r))
            continue;
        int64_t utc;
        if (t == PX_COL_TIMESTAMP) {
            utc = local_to_utc(s->from, src->v.i[r]);
        } else {
            int64_t v;
            if (px_expr_parse_timestamp(px_text_skip_space(src->v.s[r]), &v) < 0) {
                px_error_set(err, PX_EINVALID,
                             "column '%.200s': value '%.64s%s' is not a timestamp", s->column,
                             src->v.s[r], strlen(src->v.s[r]) > 64 ? "…" : "");
                rc = px__row_error(b, r, err);
                break;
            }
            utc = has_offset(src->v.s[r]) ? v : local_to_utc(s->from, v);
        }
        int32_t off = px_tz_offset_at(s->to, floor_div_s(utc), NULL, NULL);
        struct px_value lv = {.type = PX_VAL_TIMESTAMP, .i = utc + (int64_t)off * US_SEC};
        px_buf_reset(&text);
        int32_t a = off < 0 ? -off : off;
        if (px_value_render(&lv, &text) < 0 || text.len < 1) {
            rc = px_error_set(err, PX_EINTERNAL, "cannot render a timestamp");
            break;
        }
        text.len--; /* the Z */
        char tail[16];
        snprintf(tail, sizeof(tail), "%c%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600),
                 (int)(a / 60 % 60));
        if (px_buf_puts(&text, tail) < 0) {
            rc = px_error_set(err, PX_EINTERNAL, "cannot render a timestamp");
            break;
        }
        b->cols[dc].v.s[r] = px_batch_strdup(b, text.data, text.len);
        px_batch_set_null(&b->cols[dc], r, false);
    }
    px_batch_settle_column(b, c, dc, rc);
    px_buf_cleanup(&text);
    return rc;
}

const struct px_operator px__op_convert_timezone = {
    1,       "convert_timezone", "Converts a timestamp column between IANA time zones",
    tz_open, tz_process,         tz_close,
    NULL};
