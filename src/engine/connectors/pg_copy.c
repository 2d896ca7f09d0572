/*
 * The PostgreSQL COPY codec (engine/connectors/pg.h): binary COPY rows decoded straight into batch
 * columns (no per-row allocation: strings go to the batch arena), and batch rows encoded for COPY
 * FROM STDIN, in binary format converting each value to the destination column's type, or in text
 * format (escaped) when a destination column's type has no binary encoder here. Binary layouts
 * follow the PostgreSQL documentation of COPY's binary format and of each type's send/receive
 * representation (big-endian; timestamps in µs and dates in days since 2000-01-01; numeric as
 * base-10000 digits with weight, sign and display scale).
 */
#include "engine/connectors/pg.h"

#include "base/buf.h"
#include "base/civil.h"
#include "base/err.h"
#include "base/mem.h"
#include "engine/celltext.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Type oids (pg_type.dat). */
enum {
    OID_BOOL = 16,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
    OID_JSONB = 3802,
};

#define PG_EPOCH_US INT64_C(946684800000000) /* 2000-01-01 in µs since 1970-01-01 */
#define PG_EPOCH_DAYS 10957
#define US_PER_DAY INT64_C(86400000000)

static const char COPY_SIGNATURE[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', 0};

static inline uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t rd64(const unsigned char *p)
{
    return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

/* ---- decoding ---- */

void px__pg_decoder_init(struct pg_decoder *d, int ncols)
{
    memset(d, 0, sizeof(*d));
    d->ncols = ncols;
    d->names = px_xcalloc((size_t)ncols, sizeof(char *));
    d->kind = px_xcalloc((size_t)ncols, sizeof(*d->kind));
    d->type = px_xcalloc((size_t)ncols, sizeof(*d->type));
}

void px__pg_decoder_set(struct pg_decoder *d, int i, const char *name, unsigned oid)
{
    d->names[i] = px_xstrdup(name);
    enum pg_dec_kind k;
    enum px_col_type t = PX_COL_STRING;
    switch (oid) {
    case OID_INT2:
        k = PG_D_INT2, t = PX_COL_INT;
        break;
    case OID_INT4:
        k = PG_D_INT4, t = PX_COL_INT;
        break;
    case OID_INT8:
        k = PG_D_INT8, t = PX_COL_INT;
        break;
    case OID_FLOAT4:
        k = PG_D_FLOAT4, t = PX_COL_FLOAT;
        break;
    case OID_FLOAT8:
        k = PG_D_FLOAT8, t = PX_COL_FLOAT;
        break;
    case OID_NUMERIC:
        k = PG_D_NUMERIC, t = PX_COL_FLOAT;
        break;
    case OID_BOOL:
        k = PG_D_BOOL, t = PX_COL_BOOL;
        break;
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        k = PG_D_TS, t = PX_COL_TIMESTAMP;
        break;
    case OID_DATE:
        k = PG_D_DATE, t = PX_COL_TIMESTAMP;
        break;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_NAME:
    case OID_JSON:
        k = PG_D_TEXT;
        break;
    case OID_BPCHAR:
        k = PG_D_BPCHAR;
        break;
    case OID_JSONB:
        k = PG_D_JSONB;
        break;
    case OID_UUID:
        k = PG_D_UUID;
        break;
    default:
        k = PG_D_CAST;
        break;
    }
    d->kind[i] = k;
    d->type[i] = t;
}

void px__pg_decoder_cleanup(struct pg_decoder *d)
{
    for (int i = 0; d->names && i < d->ncols; i++)
        free(d->names[i]);
    free(d->names);
    free(d->kind);
    free(d->type);
    memset(d, 0, sizeof(*d));
}

struct px_batch *px__pg_decoder_batch(const struct pg_decoder *d, int64_t cap)
{
    struct px_batch *b = px_batch_create(cap);
    for (int i = 0; i < d->ncols; i++)
        px_batch_add_column(b, d->names[i], d->type[i]);
    b->first_row = d->rownum + 1;
    return b;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* numeric's binary form → double. Up to 15 significant digits with a small exponent this is
 * one exact operation (correctly rounded); otherwise through its decimal text and strtod. */
static int numeric_to_double(const unsigned char *p, size_t len, double *out)
{
    if (len < 8)
        return -1;
    int nd = (int16_t)rd16(p);
    int weight = (int16_t)rd16(p + 2);
    uint16_t sign = rd16(p + 4);
    if (nd < 0 || len != 8 + (size_t)nd * 2)
        return -1;
    if (sign == 0xC000) {
        *out = NAN;
        return 0;
    }
    if (sign == 0xD000 || sign == 0xF000) {
        *out = sign == 0xD000 ? INFINITY : -INFINITY;
        return 0;
    }
    if (nd == 0) {
        *out = 0.0;
        return 0;
    }
    if (nd <= 3) { /* ≤ 12 digits: exact integer mantissa */
        uint64_t m = 0;
        for (int i = 0; i < nd; i++) {
            unsigned v = rd16(p + 8 + 2 * i);
            if (v > 9999)
                return -1;
            m = m * 10000 + v;
        }
        int e10 = 4 * (weight - nd + 1);
        if (e10 >= -22 && e10 <= 22) {
            double v = e10 >= 0 ? (double)m * POW10[e10] : (double)m / POW10[-e10];
            *out = sign == 0x4000 ? -v : v;
            return 0;
        }
    }
    /* 0.DDDD... × 10^(4 × (weight + 1)); 40 groups (160 digits) are plenty for a double. */
    char s[200];
    size_t n = 0;
    if (sign == 0x4000)
        s[n++] = '-';
    s[n++] = '0';
    s[n++] = '.';
    int use = nd > 40 ? 40 : nd;
    for (int i = 0; i < use; i++) {
        unsigned v = rd16(p + 8 + 2 * i);
        if (v > 9999)
            return -1;
        s[n++] = (char)('0' + v / 1000);
        s[n++] = (char)('0' + v / 100 % 10);
        s[n++] = (char)('0' + v / 10 % 10);
        s[n++] = (char)('0' + v % 10);
    }
    snprintf(s + n, sizeof(s) - n, "e%d", 4 * (weight + 1));
    *out = strtod(s, NULL);
    return 0;
}

static const char HEX[] = "0123456789abcdef";

static int bad_data(const struct pg_decoder *d, int col, struct px_error *err)
{
    if (col < 0)
        return px_error_set(err, PX_EIO, "postgres: malformed COPY data at row %lld",
                            (long long)d->rownum + 1);
    return px_error_set(err, PX_EIO, "postgres: malformed COPY data at row %lld, column '%s'",
                        (long long)d->rownum + 1, d->names[col]);
}

int px__pg_decode_row(struct pg_decoder *d, struct px_batch *b, const char *buf, size_t len,
                      size_t *pos, struct px_error *err)
{
    const unsigned char *p = (const unsigned char *)buf + *pos;
    const unsigned char *end = (const unsigned char *)buf + len;
    if (!d->header_done) {
        if ((size_t)(end - p) < 19 || memcmp(p, COPY_SIGNATURE, 11) != 0)
            return bad_data(d, -1, err);
        uint32_t ext = rd32(p + 15);
        if ((size_t)(end - p - 19) < ext)
            return bad_data(d, -1, err);
        p += 19 + ext;
        d->header_done = true;
        if (p == end) {
            *pos = len;
            return 2;
        }
    }
    if (end - p < 2)
        return bad_data(d, -1, err);
    int nf = (int16_t)rd16(p);
    p += 2;
    if (nf == -1) {
        *pos = (size_t)((const char *)p - buf);
        return 0;
    }
    if (nf != d->ncols)
        return bad_data(d, -1, err);
    int64_t r = b->nrows;
    for (int i = 0; i < nf; i++) {
        if (end - p < 4)
            return bad_data(d, i, err);
        int32_t fl = (int32_t)rd32(p);
        p += 4;
        if (fl == -1)
            continue; /* NULL: columns start all-NULL */
        if (fl < 0 || end - p < fl)
            return bad_data(d, i, err);
        struct px_column *c = &b->cols[i];
        size_t n = (size_t)fl;
        switch (d->kind[i]) {
        case PG_D_INT2:
            if (n != 2)
                return bad_data(d, i, err);
            c->v.i[r] = (int16_t)rd16(p);
            break;
        case PG_D_INT4:
            if (n != 4)
                return bad_data(d, i, err);
            c->v.i[r] = (int32_t)rd32(p);
            break;
        case PG_D_INT8:
            if (n != 8)
                return bad_data(d, i, err);
            c->v.i[r] = (int64_t)rd64(p);
            break;
        case PG_D_FLOAT4: {
            if (n != 4)
                return bad_data(d, i, err);
            uint32_t u = rd32(p);
            float f;
            memcpy(&f, &u, 4);
            c->v.f[r] = f;
            break;
        }
        case PG_D_FLOAT8: {
            if (n != 8)
                return bad_data(d, i, err);
            uint64_t u = rd64(p);
            memcpy(&c->v.f[r], &u, 8);
            break;
        }
        case PG_D_NUMERIC:
            if (numeric_to_double(p, n, &c->v.f[r]) < 0)
                return bad_data(d, i, err);
            break;
        case PG_D_BOOL:
            if (n != 1)
                return bad_data(d, i, err);
            c->v.b[r] = p[0] != 0;
            break;
        case PG_D_TS: {
            if (n != 8)
                return bad_data(d, i, err);
            int64_t v = (int64_t)rd64(p);
            /* ±infinity stay at the extremes */
            c->v.i[r] = (v == INT64_MAX || v == INT64_MIN) ? v : v + PG_EPOCH_US;
            break;
        }
        case PG_D_DATE: {
            if (n != 4)
                return bad_data(d, i, err);
            int32_t v = (int32_t)rd32(p);
            c->v.i[r] = v == INT32_MAX   ? INT64_MAX
                        : v == INT32_MIN ? INT64_MIN
                                         : ((int64_t)v + PG_EPOCH_DAYS) * US_PER_DAY;
            break;
        }
        case PG_D_JSONB:
            if (n < 1 || p[0] != 1)
                return bad_data(d, i, err);
            c->v.s[r] = px_batch_strdup(b, (const char *)p + 1, n - 1);
            break;
        case PG_D_UUID: {
            if (n != 16)
                return bad_data(d, i, err);
            char u[37];
            size_t k = 0;
            for (int j = 0; j < 16; j++) {
                if (j == 4 || j == 6 || j == 8 || j == 10)
                    u[k++] = '-';
                u[k++] = HEX[p[j] >> 4];
                u[k++] = HEX[p[j] & 15];
            }
            c->v.s[r] = px_batch_strdup(b, u, 36);
            break;
        }
        case PG_D_TEXT:
        case PG_D_CAST:
            c->v.s[r] = px_batch_strdup(b, (const char *)p, n);
            break;
        case PG_D_BPCHAR: {
            /* Trailing spaces of char(n) are not significant in PostgreSQL (its ::text and
             * comparisons drop them); pushdown relies on reading what ::text gives. */
            size_t used = n;
            while (used > 0 && p[used - 1] == ' ')
                used--;
            c->v.s[r] = px_batch_strdup(b, (const char *)p, used);
            break;
        }
        }
        c->nulls[r >> 3] &= (uint8_t) ~(1u << (r & 7));
        p += n;
    }
    b->nrows++;
    d->rownum++;
    *pos = (size_t)((const char *)p - buf);
    return 1;
}

/* ---- encoding ---- */

enum enc_kind {
    E_INT2,
    E_INT4,
    E_INT8,
    E_FLOAT4,
    E_FLOAT8,
    E_NUMERIC,
    E_BOOL,
    E_TEXT,
    E_JSONB,
    E_UUID,
    E_TS,
    E_DATE,
    E_OTHER, /* no binary encoder: the load uses text format */
};

unsigned px__pg_oid_for(enum px_col_type t)
{
    switch (t) {
    case PX_COL_INT:
        return OID_INT8;
    case PX_COL_FLOAT:
        return OID_FLOAT8;
    case PX_COL_BOOL:
        return OID_BOOL;
    case PX_COL_TIMESTAMP:
        return OID_TIMESTAMPTZ;
    case PX_COL_STRING:
        return OID_TEXT;
    }
    return OID_TEXT;
}

void px__pg_encoder_init(struct pg_encoder *e, int ncols)
{
    memset(e, 0, sizeof(*e));
    e->ncols = ncols;
    e->names = px_xcalloc((size_t)ncols, sizeof(char *));
    e->from = px_xcalloc((size_t)ncols, sizeof(*e->from));
    e->oid = px_xcalloc((size_t)ncols, sizeof(*e->oid));
    e->kind = px_xcalloc((size_t)ncols, sizeof(*e->kind));
    e->binary = true;
}

void px__pg_encoder_set(struct pg_encoder *e, int i, const char *name, enum px_col_type from,
                        unsigned oid)
{
    e->names[i] = px_xstrdup(name);
    e->from[i] = from;
    e->oid[i] = oid;
    int k;
    switch (oid) {
    case OID_INT2:
        k = E_INT2;
        break;
    case OID_INT4:
        k = E_INT4;
        break;
    case OID_INT8:
        k = E_INT8;
        break;
    case OID_FLOAT4:
        k = E_FLOAT4;
        break;
    case OID_FLOAT8:
        k = E_FLOAT8;
        break;
    case OID_NUMERIC:
        k = E_NUMERIC;
        break;
    case OID_BOOL:
        k = E_BOOL;
        break;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_JSON:
        k = E_TEXT;
        break;
    case OID_JSONB:
        k = E_JSONB;
        break;
    case OID_UUID:
        k = E_UUID;
        break;
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        k = E_TS;
        break;
    case OID_DATE:
        k = E_DATE;
        break;
    default:
        k = E_OTHER;
        e->binary = false;
        break;
    }
    e->kind[i] = k;
}

void px__pg_encoder_cleanup(struct pg_encoder *e)
{
    for (int i = 0; e->names && i < e->ncols; i++)
        free(e->names[i]);
    free(e->names);
    free(e->from);
    free(e->oid);
    free(e->kind);
    memset(e, 0, sizeof(*e));
}

/* Makes room for n more bytes (the buffer is flushed every 256 KB, so it stays small). */
static inline char *room(struct px_buf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = px_xrealloc(b->data, cap);
        b->cap = cap;
    }
    return b->data + b->len;
}

static inline void put16(struct px_buf *b, uint16_t v)
{
    unsigned char *p = (unsigned char *)room(b, 2);
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    b->len += 2;
}

static inline void put32(struct px_buf *b, uint32_t v)
{
    unsigned char *p = (unsigned char *)room(b, 4);
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    b->len += 4;
}

static inline void put64(struct px_buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static inline void putn(struct px_buf *b, const void *s, size_t n)
{
    memcpy(room(b, n), s, n);
    b->len += n;
}

void px__pg_encode_header(struct px_buf *out)
{
    putn(out, COPY_SIGNATURE, 11);
    put32(out, 0); /* flags */
    put32(out, 0); /* header extension length */
}

void px__pg_encode_trailer(struct px_buf *out)
{
    put16(out, 0xffff);
}

/* A timestamp as text: ISO 8601 with 'T' and 'Z' (iso) or PostgreSQL's "… +00" form. */
static size_t fmt_ts(int64_t us, bool iso, char *out, size_t size)
{
    if (us == INT64_MAX || us == INT64_MIN)
        return (size_t)snprintf(out, size, "%s", us > 0 ? "infinity" : "-infinity");
    int64_t days = px_floor_div(us, US_PER_DAY), rem = us - days * US_PER_DAY, y;
    int m, d;
    px_civil_from_days(days, &y, &m, &d);
    int n =
        snprintf(out, size, "%04lld-%02d-%02d%c%02d:%02d:%02d", (long long)y, m, d, iso ? 'T' : ' ',
                 (int)(rem / 3600000000), (int)(rem / 60000000 % 60), (int)(rem / 1000000 % 60));
    if (rem % 1000000)
        n += snprintf(out + n, size - (size_t)n, ".%06d", (int)(rem % 1000000));
    n += snprintf(out + n, size - (size_t)n, "%s", iso ? "Z" : "+00");
    return (size_t)n;
}

/* A cell as text for a text column (how the other connectors render values). */
static const char *cell_text(const struct px_column *c, int64_t r, char *tmp, size_t size,
                             size_t *len)
{
    switch (c->type) {
    case PX_COL_STRING:
        *len = strlen(c->v.s[r]);
        return c->v.s[r];
    case PX_COL_INT:
        *len = (size_t)snprintf(tmp, size, "%lld", (long long)c->v.i[r]);
        return tmp;
    case PX_COL_FLOAT:
        px_celltext_double(c->v.f[r], tmp, size);
        break;
    case PX_COL_BOOL:
        snprintf(tmp, size, "%s", c->v.b[r] ? "true" : "false");
        break;
    case PX_COL_TIMESTAMP:
        fmt_ts(c->v.i[r], true, tmp, size);
        break;
    }
    *len = strlen(tmp);
    return tmp;
}

static int enc_error(const struct pg_encoder *e, int i, const struct px_batch *b, int64_t r,
                     const char *what, struct px_error *err)
{
    char tmp[64];
    size_t len;
    const char *v = cell_text(&b->cols[i], r, tmp, sizeof(tmp), &len);
    static const char *const tnames[] = {[E_INT2] = "smallint",
                                         [E_INT4] = "integer",
                                         [E_INT8] = "bigint",
                                         [E_FLOAT4] = "real",
                                         [E_FLOAT8] = "double precision",
                                         [E_NUMERIC] = "numeric",
                                         [E_BOOL] = "boolean",
                                         [E_TEXT] = "text",
                                         [E_JSONB] = "jsonb",
                                         [E_UUID] = "uuid",
                                         [E_TS] = "timestamp",
                                         [E_DATE] = "date",
                                         [E_OTHER] = "?"};
    int rc = px_error_set(
        err, PX_EINVALID, "row %lld, column '%s': %s %s '%.60s%s' %s the table's %s column",
        (long long)(b->first_row + r), e->names[i], px_col_type_name(b->cols[i].type),
        b->cols[i].type == PX_COL_STRING ? "value" : "value", v, len > 60 ? "..." : "", what,
        tnames[e->kind[i]]);
    px_error_hint(err, "fix or cast the value upstream (cast transform), or change the "
                       "destination column's type");
    return rc;
}

static bool parse_int(const char *s, int64_t *out)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_float(const char *s, double *out)
{
    if (!*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (*end)
        return false;
    *out = v;
    return true;
}

/* An integer value of cell (i, r) for an integer column, or false. */
static bool cell_int(const struct px_column *c, int64_t r, int64_t *v)
{
    switch (c->type) {
    case PX_COL_INT:
        *v = c->v.i[r];
        return true;
    case PX_COL_BOOL:
        *v = c->v.b[r];
        return true;
    case PX_COL_FLOAT: {
        double f = c->v.f[r];
        if (!(f == floor(f)) || f < -9.2233720368547758e18 || f >= 9.2233720368547758e18)
            return false;
        *v = (int64_t)f;
        return true;
    }
    case PX_COL_STRING:
        return parse_int(c->v.s[r], v);
    case PX_COL_TIMESTAMP:
        return false;
    }
    return false;
}

static bool cell_float(const struct px_column *c, int64_t r, double *v)
{
    switch (c->type) {
    case PX_COL_INT:
        *v = (double)c->v.i[r];
        return true;
    case PX_COL_FLOAT:
        *v = c->v.f[r];
        return true;
    case PX_COL_STRING:
        return parse_float(c->v.s[r], v);
    default:
        return false;
    }
}

static bool cell_ts(const struct px_column *c, int64_t r, int64_t *v)
{
    if (c->type == PX_COL_TIMESTAMP) {
        *v = c->v.i[r];
        return true;
    }
    return c->type == PX_COL_STRING && px_expr_parse_timestamp(c->v.s[r], v) == 0;
}

static void put_numeric_special(struct px_buf *out, uint16_t sign)
{
    put32(out, 8);
    put16(out, 0), put16(out, 0), put16(out, sign), put16(out, 0);
}

/* Decimal digits dig[0..nd) with point digits before the decimal point (may be negative or
 * past nd) and display scale dscale → numeric's binary form. false when out of range. */
static bool put_numeric_digits(struct px_buf *out, bool neg, const char *dig, int nd, int point,
                               int dscale)
{
    /* Align on the point: pad so that the integer part is a multiple of 4 digits. */
    int lead = (4 - ((point % 4) + 4) % 4) % 4;
    int start = point + lead; /* digits before the point after padding, a multiple of 4 */
    int total = lead + nd;
    if (total < start)
        total = start;
    total = (total + 3) / 4 * 4;
    if (total <= 0 || total / 4 > 200 || start > 4 * 32767 || dscale > 16383)
        return false;
    int ngroups = total / 4;
    uint16_t groups[200];
    for (int g = 0; g < ngroups; g++) {
        unsigned v = 0;
        for (int k = 0; k < 4; k++) {
            int idx = g * 4 + k - lead;
            v = v * 10 + (unsigned)(idx >= 0 && idx < nd ? dig[idx] - '0' : 0);
        }
        groups[g] = (uint16_t)v;
    }
    int weight = start / 4 - 1;
    int first = 0, last = ngroups;
    while (first < last && groups[first] == 0)
        first++, weight--;
    while (last > first && groups[last - 1] == 0)
        last--;
    int n = last - first;
    if (n == 0)
        weight = 0;
    put32(out, (uint32_t)(8 + 2 * n));
    put16(out, (uint16_t)n);
    put16(out, (uint16_t)(int16_t)weight);
    put16(out, n && neg ? 0x4000 : 0);
    put16(out, (uint16_t)dscale);
    for (int g = first; g < last; g++)
        put16(out, groups[g]);
    return true;
}

/* The decimal digits of u (no sign) into dig (≥ 20 bytes); returns their count. */
static int u64_digits(uint64_t u, char *dig)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (int i = 0; i < n; i++)
        dig[i] = tmp[n - 1 - i];
    return n;
}

static void put_numeric_int(struct px_buf *out, int64_t v)
{
    char dig[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int nd = u64_digits(u, dig);
    (void)put_numeric_digits(out, v < 0, dig, nd, nd, 0);
}

/* A decimal number as text ("-12.50", "1e+20", "NaN", "-Infinity") → numeric; false if not one. */
static bool put_numeric_text(struct px_buf *out, const char *s)
{
    if (strcasecmp(s, "nan") == 0) {
        put_numeric_special(out, 0xC000);
        return true;
    }
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (strcasecmp(s, "inf") == 0 || strcasecmp(s, "infinity") == 0) {
        put_numeric_special(out, neg ? 0xF000 : 0xD000);
        return true;
    }
    char dig[400];
    int nd = 0, seen = 0;
    for (; *s >= '0' && *s <= '9'; s++, seen++)
        if (nd < (int)sizeof(dig))
            dig[nd++] = *s;
    int point = nd;
    if (*s == '.') {
        s++;
        for (; *s >= '0' && *s <= '9'; s++, seen++)
            if (nd < (int)sizeof(dig))
                dig[nd++] = *s;
    }
    if (!seen || nd != seen)
        return false;
    long ex = 0;
    if (*s == 'e' || *s == 'E') {
        char *end;
        errno = 0;
        ex = strtol(s + 1, &end, 10);
        if (errno || end == s + 1 || ex > 1000 || ex < -1000)
            return false;
        s = end;
    }
    if (*s)
        return false;
    point += (int)ex;
    return put_numeric_digits(out, neg, dig, nd, point, nd - point > 0 ? nd - point : 0);
}

/* A double → numeric with the value of its shortest decimal form (what its text would give).
 * Fast path: the smallest scale s ≤ 15 at which v is the double nearest to some integer r
 * divided by 10^s, with |r| < 2^53 (then r × 10^-s is that shortest form); else through text. */
static bool put_numeric_double(struct px_buf *out, double v)
{
    if (isnan(v)) {
        put_numeric_special(out, 0xC000);
        return true;
    }
    if (isinf(v)) {
        put_numeric_special(out, v < 0 ? 0xF000 : 0xD000);
        return true;
    }
    double a = fabs(v);
    if (a < 4e15) {
        for (int sc = 0; sc <= 15; sc++) {
            double x = a * POW10[sc];
            if (x >= 9007199254740992.0)
                break;
            double r = nearbyint(x);
            if (r / POW10[sc] == a) {
                char dig[24];
                int nd = u64_digits((uint64_t)r, dig);
                return put_numeric_digits(out, v < 0, dig, nd, nd - sc, sc);
            }
        }
    }
    char tmp[64];
    px_celltext_double(v, tmp, sizeof(tmp));
    return put_numeric_text(out, tmp);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool parse_uuid(const char *s, unsigned char out[16])
{
    int n = 0;
    bool brace = *s == '{';
    if (brace)
        s++;
    while (*s && n < 32) {
        if (*s == '-' && n > 0 && n % 4 == 0) {
            s++;
            continue;
        }
        int h = hexval(*s);
        if (h < 0)
            return false;
        if (n % 2 == 0)
            out[n / 2] = (unsigned char)(h << 4);
        else
            out[n / 2] |= (unsigned char)h;
        n++;
        s++;
    }
    if (brace && *s == '}')
        s++;
    return n == 32 && !*s;
}

static int encode_binary(const struct pg_encoder *e, struct px_buf *out, const struct px_batch *b,
                         int i, int64_t r, struct px_error *err)
{
    const struct px_column *c = &b->cols[i];
    int64_t iv;
    double fv;
    switch (e->kind[i]) {
    case E_INT2:
        if (!cell_int(c, r, &iv) || iv < INT16_MIN || iv > INT16_MAX)
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 2);
        put16(out, (uint16_t)(int16_t)iv);
        return 0;
    case E_INT4:
        if (!cell_int(c, r, &iv) || iv < INT32_MIN || iv > INT32_MAX)
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 4);
        put32(out, (uint32_t)(int32_t)iv);
        return 0;
    case E_INT8:
        if (!cell_int(c, r, &iv))
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 8);
        put64(out, (uint64_t)iv);
        return 0;
    case E_FLOAT4: {
        if (!cell_float(c, r, &fv))
            return enc_error(e, i, b, r, "does not fit", err);
        float f = (float)fv;
        uint32_t u;
        memcpy(&u, &f, 4);
        put32(out, 4);
        put32(out, u);
        return 0;
    }
    case E_FLOAT8: {
        if (!cell_float(c, r, &fv))
            return enc_error(e, i, b, r, "does not fit", err);
        uint64_t u;
        memcpy(&u, &fv, 8);
        put32(out, 8);
        put64(out, u);
        return 0;
    }
    case E_NUMERIC: {
        bool ok = false;
        if (c->type == PX_COL_INT) {
            put_numeric_int(out, c->v.i[r]);
            ok = true;
        } else if (c->type == PX_COL_FLOAT) {
            ok = put_numeric_double(out, c->v.f[r]);
        } else if (c->type == PX_COL_STRING) {
            ok = put_numeric_text(out, c->v.s[r]);
        }
        if (!ok)
            return enc_error(e, i, b, r, "does not fit", err);
        return 0;
    }
    case E_BOOL: {
        int v = -1;
        if (c->type == PX_COL_BOOL)
            v = c->v.b[r];
        else if (c->type == PX_COL_INT && (c->v.i[r] == 0 || c->v.i[r] == 1))
            v = (int)c->v.i[r];
        else if (c->type == PX_COL_STRING) {
            const char *s = c->v.s[r];
            if (!strcasecmp(s, "true") || !strcasecmp(s, "t") || !strcasecmp(s, "yes") ||
                !strcasecmp(s, "on") || !strcmp(s, "1"))
                v = 1;
            else if (!strcasecmp(s, "false") || !strcasecmp(s, "f") || !strcasecmp(s, "no") ||
                     !strcasecmp(s, "off") || !strcmp(s, "0"))
                v = 0;
        }
        if (v < 0)
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 1);
        putn(out, v ? "\1" : "\0", 1);
        return 0;
    }
    case E_TEXT:
    case E_JSONB: {
        char tmp[64];
        size_t len;
        const char *s = cell_text(c, r, tmp, sizeof(tmp), &len);
        bool jb = e->kind[i] == E_JSONB;
        if (len + jb > INT32_MAX)
            return enc_error(e, i, b, r, "is too long for", err);
        put32(out, (uint32_t)(len + jb));
        if (jb)
            putn(out, "\1", 1);
        putn(out, s, len);
        return 0;
    }
    case E_UUID: {
        unsigned char u[16];
        if (c->type != PX_COL_STRING || !parse_uuid(c->v.s[r], u))
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 16);
        putn(out, u, 16);
        return 0;
    }
    case E_TS:
        if (!cell_ts(c, r, &iv))
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 8);
        put64(out, (uint64_t)(iv == INT64_MAX || iv == INT64_MIN ? iv : iv - PG_EPOCH_US));
        return 0;
    case E_DATE: {
        if (!cell_ts(c, r, &iv))
            return enc_error(e, i, b, r, "does not fit", err);
        int64_t days = iv == INT64_MAX   ? INT32_MAX
                       : iv == INT64_MIN ? INT32_MIN
                                         : px_floor_div(iv, US_PER_DAY) - PG_EPOCH_DAYS;
        if (days > INT32_MAX || days < INT32_MIN)
            return enc_error(e, i, b, r, "does not fit", err);
        put32(out, 4);
        put32(out, (uint32_t)(int32_t)days);
        return 0;
    }
    default:
        return px_error_set(err, PX_EINTERNAL, "postgres: no binary encoder for column '%s'",
                            e->names[i]);
    }
}

/* Appends s escaped for COPY's text format. */
static void put_escaped(struct px_buf *out, const char *s, size_t len)
{
    char *w = room(out, len * 2);
    for (size_t k = 0; k < len; k++) {
        char ch = s[k];
        switch (ch) {
        case '\\':
            *w++ = '\\', *w++ = '\\';
            break;
        case '\t':
            *w++ = '\\', *w++ = 't';
            break;
        case '\n':
            *w++ = '\\', *w++ = 'n';
            break;
        case '\r':
            *w++ = '\\', *w++ = 'r';
            break;
        default:
            *w++ = ch;
        }
    }
    out->len = (size_t)(w - out->data);
}

static void encode_text(const struct pg_encoder *e, struct px_buf *out, const struct px_column *c,
                        int i, int64_t r)
{
    char tmp[64];
    size_t len;
    switch (c->type) {
    case PX_COL_BOOL:
        putn(out, c->v.b[r] ? "t" : "f", 1);
        return;
    case PX_COL_FLOAT: {
        double f = c->v.f[r];
        bool intcol = e->kind[i] == E_INT2 || e->kind[i] == E_INT4 || e->kind[i] == E_INT8;
        if (isnan(f))
            len = (size_t)snprintf(tmp, sizeof(tmp), "NaN");
        else if (isinf(f))
            len = (size_t)snprintf(tmp, sizeof(tmp), "%sInfinity", f < 0 ? "-" : "");
        else if (intcol && f == floor(f) && fabs(f) < 1e18)
            len = (size_t)snprintf(tmp, sizeof(tmp), "%.0f", f);
        else {
            px_celltext_double(f, tmp, sizeof(tmp));
            len = strlen(tmp);
        }
        putn(out, tmp, len);
        return;
    }
    case PX_COL_TIMESTAMP:
        len = fmt_ts(c->v.i[r], false, tmp, sizeof(tmp));
        putn(out, tmp, len);
        return;
    default: {
        const char *s = cell_text(c, r, tmp, sizeof(tmp), &len);
        put_escaped(out, s, len);
        return;
    }
    }
}

int px__pg_encode_row(const struct pg_encoder *e, struct px_buf *out, const struct px_batch *b,
                      int64_t r, int64_t seq, struct px_error *err)
{
    size_t start = out->len;
    if (e->binary)
        put16(out, (uint16_t)e->ncols);
    for (int i = 0; i < e->ncols; i++) {
        if (i >= b->ncols) { /* the staging sequence number */
            if (e->binary) {
                put32(out, 8);
                put64(out, (uint64_t)seq);
            } else {
                char tmp[32];
                int n = snprintf(tmp, sizeof(tmp), "\t%lld", (long long)seq);
                putn(out, tmp, (size_t)n);
            }
            continue;
        }
        const struct px_column *c = &b->cols[i];
        bool null = px_batch_is_null(c, r);
        if (e->binary) {
            if (null) {
                put32(out, 0xffffffffu);
                continue;
            }
            int rc = encode_binary(e, out, b, i, r, err);
            if (rc < 0) {
                out->len = start;
                return rc;
            }
        } else {
            if (i)
                putn(out, "\t", 1);
            if (null)
                putn(out, "\\N", 2);
            else
                encode_text(e, out, c, i, r);
        }
    }
    if (!e->binary)
        putn(out, "\n", 1);
    return 0;
}
