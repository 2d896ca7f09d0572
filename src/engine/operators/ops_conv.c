/*
 * Value-converting streaming operators (exec_int.h): cast, mask and convert_timezone. Each
 * builds the converted column at the end of the batch and swaps it into the old one's place.
 *
 * cast: NULL stays NULL. integer from float only when the value is whole and in range, from
 * boolean as 0/1, from text as a full decimal integer (surrounding blanks allowed); float from
 * integer or text; boolean from integer 0/1 or text true/false/t/f/yes/no/1/0 (any case);
 * timestamp from text (px_expr_parse_timestamp: a date, a date and time, optionally Z or
 * ±hh:mm); date is a timestamp truncated to 00:00:00 UTC; string from anything (timestamps as
 * 2024-01-31T12:00:00Z, floats with the fewest digits that read back). A value that does not
 * convert fails the run with the row, the column and the value (truncated to 64 bytes).
 *
 * mask: hash replaces each non-NULL value by the lowercase hex SHA-256 (libsodium
 * crypto_hash_sha256) of its text as cast to string renders it: equal values stay equal, so
 * joins and counts still work, but the hash is not keyed, so a guessable value (a short number,
 * a known e-mail) can be found by hashing candidates. redact replaces each non-NULL value by
 * "[redacted]". NULL stays NULL either way; the column becomes a string column.
 *
 * convert_timezone: a timestamp column holds wall-clock times in from_timezone (for the
 * default, UTC, that is the instant itself); a string column is read as a timestamp, and a
 * value with an explicit Z or ±hh:mm is that instant whatever from_timezone says. A wall-clock
 * time skipped by a forward transition (a gap) maps to the first instant after the gap; one
 * repeated by a backward transition (an overlap) maps to its first (earlier) instant, as Vixie
 * cron does. The output replaces the column with text: the instant as wall-clock time in
 * to_timezone with its offset, "2024-03-10T03:30:00-04:00" (".ffffff" when not whole seconds),
 * which every destination reads back as the same instant.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"
#include "sched/tz.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define US_SEC 1000000LL
#define US_DAY 86400000000LL

/* Renders a non-NULL cell as text into out (reset first). */
static int cell_text(const struct px_batch *b, int c, int64_t r, struct px_buf *out)
{
    const struct px_column *col = &b->cols[c];
    char tmp[64];
    px_buf_reset(out);
    switch (col->type) {
    case PX_COL_INT:
        return px_buf_printf(out, "%lld", (long long)col->v.i[r]);
    case PX_COL_FLOAT:
        px__format_double(col->v.f[r], tmp, sizeof(tmp));
        return px_buf_puts(out, tmp);
    case PX_COL_BOOL:
        return px_buf_puts(out, col->v.b[r] ? "true" : "false");
    case PX_COL_STRING:
        return px_buf_puts(out, col->v.s[r]);
    case PX_COL_TIMESTAMP: {
        struct px_value v = {.type = PX_VAL_TIMESTAMP, .i = col->v.i[r]};
        return px_value_render(&v, out);
    }
    }
    return 0;
}

/* Replaces column old by column neu (the last one). */
static void swap_in(struct px_batch *b, int old, int neu)
{
    struct px_column tmp = b->cols[neu];
    b->cols[neu] = b->cols[old];
    b->cols[old] = tmp;
    px_batch_remove_column(b, neu);
}

/* Ends rewriting column old into column neu (the last one): swaps it in when rc >= 0, else
 * drops neu and leaves old as it was. */
static void settle_column(struct px_batch *b, int old, int neu, int rc)
{
    if (rc < 0)
        px_batch_remove_column(b, neu);
    else
        swap_in(b, old, neu);
}

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

static const char *skip_blank(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

static bool only_blank(const char *p)
{
    return *skip_blank(p) == '\0';
}

static bool parse_int(const char *s, int64_t *out)
{
    const char *p = skip_blank(s);
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
    const char *p = skip_blank(s);
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
    const char *p = skip_blank(s);
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
        if (cell_text(b, c, r, text) < 0)
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
        else if (!s || px_expr_parse_timestamp(skip_blank(s), &dst->v.i[r]) < 0)
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
            if (cell_text(b, c, r, &text) < 0)
                px_buf_reset(&text);
            const char *v = text.data ? text.data : "";
            px_error_set(err, PX_EINVALID,
                         "column '%.200s': value '%.64s%s' does not convert to %s", s->cols[k].name,
                         v, strlen(v) > 64 ? "…" : "", tname[to]);
            rc = px__row_error(b, r, err);
            break;
        }
        settle_column(b, c, dc, rc);
    }
    px_buf_cleanup(&text);
    return rc;
}

/* ---- mask ---- */

struct maskop {
    struct json_object *columns; /* borrowed */
    bool redact;
};

static int mask_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    const char *m = px_json_get_str(ctx->config, "method");
    if (sodium_init() < 0)
        return px_error_set(err, PX_EINTERNAL, "libsodium failed to initialize");
    struct maskop *s = px_xcalloc(1, sizeof(*s));
    s->columns = px_json_get(ctx->config, "columns");
    s->redact = m && strcmp(m, "redact") == 0;
    *state_out = s;
    return 0;
}

static void mask_close(void *state)
{
    free(state);
}

static int mask_process(void *state, struct px_batch *b, struct px_error *err)
{
    struct maskop *s = state;
    size_t n = json_object_array_length(s->columns);
    for (size_t k = 0; k < n; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->columns, k));
        if (px_batch_find(b, name) < 0)
            return px__no_column(b, name, err);
    }
    struct px_buf text;
    px_buf_init(&text, (size_t)1 << 30);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const char *name = json_object_get_string(json_object_array_get_idx(s->columns, k));
        int c = px_batch_find(b, name);
        int dc = px_batch_add_column(b, name, PX_COL_STRING);
        for (int64_t r = 0; r < b->nrows; r++) {
            if (px_batch_is_null(&b->cols[c], r))
                continue;
            if (s->redact) {
                b->cols[dc].v.s[r] = "[redacted]";
            } else {
                unsigned char h[crypto_hash_sha256_BYTES];
                char hex[crypto_hash_sha256_BYTES * 2 + 1];
                if (cell_text(b, c, r, &text) < 0) {
                    px_error_set(err, PX_ETOOLARGE, "column '%.200s': a value is too long to hash",
                                 name);
                    rc = px__row_error(b, r, err);
                    break;
                }
                crypto_hash_sha256(h, (const unsigned char *)(text.data ? text.data : ""),
                                   text.len);
                sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
                b->cols[dc].v.s[r] = px_batch_strdup(b, hex, sizeof(hex) - 1);
            }
            px_batch_set_null(&b->cols[dc], r, false);
        }
        settle_column(b, c, dc, rc);
    }
    px_buf_cleanup(&text);
    return rc;
}

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
    const char *p = skip_blank(s);
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
            if (px_expr_parse_timestamp(skip_blank(src->v.s[r]), &v) < 0) {
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
    settle_column(b, c, dc, rc);
    px_buf_cleanup(&text);
    return rc;
}

const struct px_operator px__op_cast = {
    1, "cast", "Converts columns to other types", cast_open, cast_process, cast_close, NULL};
const struct px_operator px__op_mask = {
    1, "mask", "Hashes or redacts columns", mask_open, mask_process, mask_close, NULL};
const struct px_operator px__op_convert_timezone = {
    1,       "convert_timezone", "Converts a timestamp column between IANA time zones",
    tz_open, tz_process,         tz_close,
    NULL};
