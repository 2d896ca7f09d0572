/*
 * A cell's value as text (celltext.h): the one rendering of ints, floats, booleans and
 * timestamps the file destinations, cast, mask and the SQL destinations share.
 */
#include "engine/celltext.h"

#include "base/buf.h"
#include "engine/batch.h"
#include "engine/expr/expr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes v in decimal; returns the length. out must hold 21 bytes. */
static size_t fmt_int(int64_t v, char *out)
{
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n)
        out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

/* The common case of px_celltext_double without printf: when d is m / 10^k exactly as a double
 * for some m of at most 15 digits, the smallest such k gives the very digits "%.15g" prints
 * (which then reads back as d). Limited to the magnitudes "%g" prints without an exponent.
 * Returns the length, or 0 when d is not such a value. */
static size_t fmt_double_fast(double d, char *out)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    double a = d < 0 ? -d : d;
    if (!(a >= 1e-3 && a < 1e14))
        return 0;
    for (int k = 0; k < 15; k++) {
        double scaled = a * p10[k];
        if (scaled >= 1e15)
            return 0;
        int64_t m = llround(scaled);
        if ((double)m / p10[k] != a)
            continue;
        char digits[24];
        size_t nd = fmt_int(m, digits), n = 0;
        if (d < 0)
            out[n++] = '-';
        if ((int)nd <= k) { /* 0.00ddd */
            out[n++] = '0';
            out[n++] = '.';
            for (int z = 0; z < k - (int)nd; z++)
                out[n++] = '0';
            memcpy(out + n, digits, nd);
            n += nd;
        } else {
            memcpy(out + n, digits, nd - (size_t)k);
            n += nd - (size_t)k;
            out[n++] = '.';
            if (k) {
                memcpy(out + n, digits + nd - (size_t)k, (size_t)k);
                n += (size_t)k;
            } else {
                out[n++] = '0';
            }
        }
        out[n] = '\0';
        return n;
    }
    return 0;
}

void px_celltext_double(double d, char *out, size_t size)
{
    if (size >= 40 && fmt_double_fast(d, out))
        return;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (isfinite(d) && !strpbrk(out, ".eEn"))
        snprintf(out + strlen(out), size - strlen(out), ".0");
}

/* "2024-01-31T12:00:00Z", with ".ffffff" when not whole seconds, as px_value_render writes a
 * timestamp, for the years 0000-9999; returns the length, or 0 outside them. out: 32 bytes. */
static size_t fmt_timestamp(int64_t us, char *out)
{
    const int64_t day = 86400000000LL;
    int64_t days = us / day, rem = us % day;
    if (rem < 0) {
        rem += day;
        days--;
    }
    /* civil_from_days (H. Hinnant's algorithm) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    if (y < 0 || y > 9999)
        return 0;
    int64_t secs = rem / 1000000, frac = rem % 1000000;
    int v[6] = {(int)y, m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60)};
    static const char sep[] = "--T::";
    size_t n = 0;
    out[n++] = (char)('0' + v[0] / 1000);
    out[n++] = (char)('0' + v[0] / 100 % 10);
    out[n++] = (char)('0' + v[0] / 10 % 10);
    out[n++] = (char)('0' + v[0] % 10);
    for (int k = 1; k < 6; k++) {
        out[n++] = sep[k - 1];
        out[n++] = (char)('0' + v[k] / 10);
        out[n++] = (char)('0' + v[k] % 10);
    }
    if (frac) {
        out[n++] = '.';
        for (int64_t div = 100000; div; div /= 10)
            out[n++] = (char)('0' + frac / div % 10);
    }
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

size_t px_celltext(const struct px_batch *b, int col, int64_t r, char *tmp, size_t size)
{
    const struct px_column *c = &b->cols[col];
    size_t n;
    switch (c->type) {
    case PX_COL_INT:
        return fmt_int(c->v.i[r], tmp);
    case PX_COL_FLOAT:
        px_celltext_double(c->v.f[r], tmp, size);
        return strlen(tmp);
    case PX_COL_BOOL:
        n = c->v.b[r] ? 4 : 5;
        memcpy(tmp, c->v.b[r] ? "true" : "false", n + 1);
        return n;
    case PX_COL_TIMESTAMP: {
        if ((n = fmt_timestamp(c->v.i[r], tmp)))
            return n;
        struct px_value v = {.type = PX_VAL_TIMESTAMP, .i = c->v.i[r]};
        struct px_buf t;
        px_buf_init(&t, 64);
        (void)px_value_render(&v, &t);
        snprintf(tmp, size, "%s", t.data ? t.data : "");
        px_buf_cleanup(&t);
        return strlen(tmp);
    }
    case PX_COL_STRING:
        snprintf(tmp, size, "%s", c->v.s[r]);
        return strlen(tmp);
    }
    tmp[0] = '\0';
    return 0;
}

int px_celltext_buf(const struct px_batch *b, int c, int64_t r, struct px_buf *out)
{
    const struct px_column *col = &b->cols[c];
    char tmp[64];
    px_buf_reset(out);
    switch (col->type) {
    case PX_COL_INT:
        return px_buf_printf(out, "%lld", (long long)col->v.i[r]);
    case PX_COL_FLOAT:
        px_celltext_double(col->v.f[r], tmp, sizeof(tmp));
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
