/*
 * File connectors: CSV (RFC 4180) and JSON Lines, plus the files-root confinement shared with
 * SQLite (exec_int.h).
 *
 * Sources read in batches. Column types are inferred from the first batch (CSV: the narrowest
 * of integer, float, boolean, timestamp, string that fits every non-empty value; an integer
 * with a leading zero stays a string; JSONL: from the JSON types, integer + float → float,
 * objects/arrays and mixed types → string); later batches must fit those types, else the run
 * fails naming the line. In CSV an empty unquoted field is NULL and "" an empty string.
 *
 * Destinations: replace writes a temporary file in the same directory, fsyncs it and renames
 * it over the target on commit; append appends and, if the run fails, truncates the file back
 * to its old length. CSV output uses LF line ends, quotes a field only when it must (and ""
 * for an empty string), and writes the header when the file starts empty.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/expr.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINE (1u << 20) /* bytes per CSV record or JSONL line */

/* ---- the files root ---- */

static int check_rel(const char *what, const char *p, struct px_error *err)
{
    if (p[0] == '/')
        return px_error_set(err, PX_EINVALID,
                            "%s '%s' is absolute; give a path relative to the files root", what, p);
    const char *s = p;
    while (*s) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return px_error_set(err, PX_EINVALID,
                                "%s '%s' contains '..'; paths must stay under the files root", what,
                                p);
        s += n;
        if (*s == '/')
            s++;
    }
    return 0;
}

static bool under(const char *root, const char *p)
{
    size_t n = strlen(root);
    return strncmp(root, p, n) == 0 && (p[n] == '/' || (n == 1 && root[0] == '/'));
}

int px__files_resolve(const struct px_node_ctx *ctx, char *out, size_t out_size,
                      struct px_error *err)
{
    const char *root = ctx->opts->files_root;
    const char *path = px_json_get_str(ctx->params, "path");
    const char *file = px_json_get_str(ctx->config, "file");
    if (!root || !*root)
        return px_error_set(err, PX_EUNAVAILABLE, "no files root is configured");
    if (!path)
        return px_error_set(err, PX_EINVALID, "the connection has no path");
    int rc = check_rel("path", path, err);
    if (rc == 0 && file)
        rc = check_rel("file", file, err);
    if (rc < 0)
        return rc;
    char realroot[PATH_MAX], joined[PATH_MAX * 2], real[PATH_MAX];
    if (!realpath(root, realroot))
        return px_error_set(err, PX_EIO, "files root: %s", strerror(errno));
    snprintf(joined, sizeof(joined), "%s/%s%s%s", realroot, path, file ? "/" : "",
             file ? file : "");
    if (realpath(joined, real)) {
        if (!under(realroot, real))
            return px_error_set(err, PX_EINVALID, "'%s%s%s' resolves outside the files root", path,
                                file ? "/" : "", file ? file : "");
        snprintf(out, out_size, "%s", real);
        return 0;
    }
    if (errno != ENOENT)
        return px_error_set(err, PX_EIO, "'%s': %s", path, strerror(errno));
    /* Missing file: its directory must exist under the root. */
    char *slash = strrchr(joined, '/');
    *slash = '\0';
    const char *base = slash + 1;
    if (!*base || strcmp(base, ".") == 0)
        return px_error_set(err, PX_EINVALID, "'%s' does not name a file", path);
    if (!realpath(joined, real))
        return px_error_set(err, PX_ENOTFOUND, "the directory of '%s%s%s' does not exist", path,
                            file ? "/" : "", file ? file : "");
    if (!under(realroot, real) && strcmp(realroot, real) != 0)
        return px_error_set(err, PX_EINVALID, "'%s' resolves outside the files root", path);
    if ((size_t)snprintf(out, out_size, "%s/%s", real, base) >= out_size)
        return px_error_set(err, PX_EINVALID, "path too long");
    return 0;
}

/* ---- value text ---- */

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

/* The common case of px__format_double without printf: when d is m / 10^k exactly as a double
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

void px__format_double(double d, char *out, size_t size)
{
    if (size >= 40 && fmt_double_fast(d, out))
        return;
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (isfinite(d) && !strpbrk(out, ".eEn"))
        strncat(out, ".0", size - strlen(out) - 1);
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

enum kind { K_UNKNOWN = -1 };

static int text_kind(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (isdigit((unsigned char)*p)) {
        const char *d = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (!*p && !(d[0] == '0' && d[1])) {
            errno = 0;
            (void)strtoll(s, NULL, 10);
            if (errno == 0)
                return PX_COL_INT;
        }
    }
    char *end;
    if (*s && strpbrk(s, "0123456789") && !strpbrk(s, "xXnN")) {
        errno = 0;
        double d = strtod(s, &end);
        if (!*end && errno == 0 && isfinite(d) && !isspace((unsigned char)s[0]))
            return PX_COL_FLOAT;
    }
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0)
        return PX_COL_BOOL;
    int64_t ts;
    if (strlen(s) >= 10 && isdigit((unsigned char)s[0]) && s[4] == '-' &&
        px_expr_parse_timestamp(s, &ts) == 0)
        return PX_COL_TIMESTAMP;
    return PX_COL_STRING;
}

enum px_col_type px__infer_merge(int current, const char *s)
{
    int k = text_kind(s);
    if (current < 0 || current == k)
        return (enum px_col_type)k;
    if ((current == PX_COL_INT && k == PX_COL_FLOAT) ||
        (current == PX_COL_FLOAT && k == PX_COL_INT))
        return PX_COL_FLOAT;
    return PX_COL_STRING;
}

/* Stores text s into a typed cell; -PX_EINVALID when it does not fit. */
static int set_text(struct px_batch *b, int col, int64_t row, const char *s)
{
    struct px_column *c = &b->cols[col];
    char *end;
    errno = 0;
    switch (c->type) {
    case PX_COL_INT:
        if (text_kind(s) != PX_COL_INT)
            return -PX_EINVALID;
        c->v.i[row] = strtoll(s, NULL, 10);
        break;
    case PX_COL_FLOAT: {
        int k = text_kind(s);
        if (k != PX_COL_INT && k != PX_COL_FLOAT)
            return -PX_EINVALID;
        c->v.f[row] = strtod(s, &end);
        break;
    }
    case PX_COL_BOOL:
        if (strcasecmp(s, "true") == 0)
            c->v.b[row] = 1;
        else if (strcasecmp(s, "false") == 0)
            c->v.b[row] = 0;
        else
            return -PX_EINVALID;
        break;
    case PX_COL_TIMESTAMP:
        if (px_expr_parse_timestamp(s, &c->v.i[row]) != 0)
            return -PX_EINVALID;
        break;
    case PX_COL_STRING:
        c->v.s[row] = px_batch_strdup(b, s, strlen(s));
        break;
    }
    px_batch_set_null(c, row, false);
    return 0;
}

/* Fast paths of set_text for the shapes bulk data has; anything else goes through set_text,
 * which stays the reference for what is accepted. */

/* An integer of at most 18 digits with no leading zero (the forms text_kind calls INT that
 * cannot overflow): 1 with *out set, else 0. */
static int fast_int(const char *s, size_t len, int64_t *out)
{
    const char *p = s, *e = s + len;
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    size_t n = (size_t)(e - p);
    if (n == 0 || n > 18 || (p[0] == '0' && n > 1))
        return 0;
    int64_t v = 0;
    for (; p < e; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (d > 9)
            return 0;
        v = v * 10 + (int64_t)d;
    }
    *out = neg ? -v : v;
    return 1;
}

/* [sign] digits [. digits] with at most 15 significant digits in all: exactly m / 10^k with m
 * and 10^k exact doubles, so one correctly rounded division gives what strtod gives. */
static int fast_float(const char *s, size_t len, double *out)
{
    static const double p10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const char *p = s, *e = s + len;
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    int64_t m = 0;
    int nd = 0, frac = -1;
    for (; p < e; p++) {
        if (*p == '.') {
            if (frac >= 0 || nd == 0)
                return 0;
            frac = 0;
            continue;
        }
        unsigned d = (unsigned)(*p - '0');
        if (d > 9 || ++nd > 15)
            return 0;
        m = m * 10 + (int64_t)d;
        if (frac >= 0)
            frac++;
    }
    if (nd == 0 || frac == 0)
        return 0;
    double v = (double)m;
    if (frac > 0)
        v /= p10[frac];
    *out = neg ? -v : v;
    return 1;
}

/* set_text for a field of known length. */
static int set_text_len(struct px_batch *b, int col, int64_t row, const char *s, size_t len)
{
    struct px_column *c = &b->cols[col];
    switch (c->type) {
    case PX_COL_INT:
        if (!fast_int(s, len, &c->v.i[row]))
            return set_text(b, col, row, s);
        break;
    case PX_COL_FLOAT:
        if (!fast_float(s, len, &c->v.f[row]))
            return set_text(b, col, row, s);
        break;
    case PX_COL_STRING:
        c->v.s[row] = px_batch_strdup(b, s, len);
        break;
    default:
        return set_text(b, col, row, s);
    }
    px_batch_set_null(c, row, false);
    return 0;
}

/* ---- CSV source ---- */

/* The file is read in blocks into buf; a record is located in it first (without changing it),
 * then split in place: delimiters become NULs and quoted fields are unescaped where they lie,
 * so fields point into buf until the next record is read. A record's raw text may take up to
 * 2 * MAX_LINE bytes (quotes doubled); its fields, unescaped and NUL-terminated, MAX_LINE. */
#define CSV_READ (1u << 20)
#define CSV_RAW_MAX (2u * MAX_LINE + 2)
#define CSV_QUEUE 3

struct csvsrc {
    int fd;
    char delim;
    int64_t line;   /* physical line of the next character */
    int64_t rownum; /* data rows read */
    char *buf;      /* [pos, len) not consumed yet; buf[len] is spare for a NUL */
    size_t pos, len, cap;
    bool at_eof; /* read() has returned 0 */
    char **fv;   /* fields of the current record */
    size_t *flen;
    bool *fquoted;
    size_t nf, fcap;
    char **names;
    int ncols;
    int *types; /* inferred, or NULL before the first batch */
    int64_t batch_rows;
    bool eof;
    /* Read-ahead: a thread runs csv_produce and queues up to CSV_QUEUE batches, so that
     * reading and parsing overlap the transforms and the destination downstream. Errors are
     * delivered after the batches queued before them, as without the thread. */
    bool threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct px_batch *queue[CSV_QUEUE];
    int qhead, qcount;
    bool qdone, qstop;
    int qrc;
    struct px_error qerr;
};

static void csvsrc_close(void *state)
{
    struct csvsrc *s = state;
    if (!s)
        return;
    if (s->threaded) {
        pthread_mutex_lock(&s->mu);
        s->qstop = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        for (int k = 0; k < s->qcount; k++)
            px_batch_destroy(s->queue[(s->qhead + k) % CSV_QUEUE]);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s->buf);
    free(s->fv);
    free(s->flen);
    free(s->fquoted);
    for (int i = 0; i < s->ncols; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    free(s);
}

/* Moves the unconsumed bytes to the front and reads more: 1 if bytes were added, 0 at the end
 * of the file, or an error. Invalidates pointers into buf. */
static int csv_fill(struct csvsrc *s, struct px_error *err)
{
    if (s->at_eof)
        return 0;
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, s->len - s->pos);
        s->len -= s->pos;
        s->pos = 0;
    }
    if (s->cap - s->len < CSV_READ + 1) {
        s->cap = s->len + CSV_READ + 1;
        s->buf = px_xrealloc(s->buf, s->cap);
    }
    for (;;) {
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return px_error_set(err, PX_EIO, "read error: %s", strerror(errno));
        if (n == 0) {
            s->at_eof = true;
            return 0;
        }
        s->len += (size_t)n;
        return 1;
    }
}

static void csv_add_field(struct csvsrc *s, char *p, size_t len, bool quoted)
{
    if (s->nf == s->fcap) {
        s->fcap = s->fcap ? s->fcap * 2 : 16;
        s->fv = px_xrealloc(s->fv, s->fcap * sizeof(*s->fv));
        s->flen = px_xrealloc(s->flen, s->fcap * sizeof(*s->flen));
        s->fquoted = px_xrealloc(s->fquoted, s->fcap * sizeof(*s->fquoted));
    }
    p[len] = '\0';
    s->fv[s->nf] = p;
    s->flen[s->nf] = len;
    s->fquoted[s->nf] = quoted;
    s->nf++;
}

/* Splits a record that contains a quote, in place: RFC 4180 with the errors of a strict
 * reader. The record is buf[pos, end); buf[end] is its terminator or the spare byte. */
static int csv_split_quoted(struct csvsrc *s, size_t end, int64_t start_line, struct px_error *err)
{
    char *p = s->buf + s->pos, *e = s->buf + end;
    for (;;) {
        char *start = p, *w = p;
        bool quoted = false;
        if (p < e && *p == '"') {
            quoted = true;
            p++;
            for (;;) {
                if (p >= e)
                    return px_error_set(err, PX_EINVALID, "line %lld: unterminated quoted field",
                                        (long long)start_line);
                char c = *p++;
                if (c == '"') {
                    if (p < e && *p == '"')
                        p++;
                    else
                        break;
                } else if (c == '\n') {
                    s->line++;
                }
                *w++ = c;
            }
            if (p < e && *p != s->delim)
                return px_error_set(err, PX_EINVALID,
                                    "line %lld: unexpected character after a closing quote "
                                    "(a quote inside a quoted field is written \"\")",
                                    (long long)s->line);
        } else {
            while (p < e && *p != s->delim) {
                if (*p == '"')
                    return px_error_set(err, PX_EINVALID,
                                        "line %lld: quote inside an unquoted field",
                                        (long long)s->line);
                p++;
            }
            w = p;
        }
        csv_add_field(s, start, (size_t)(w - start), quoted);
        if (p >= e)
            return 0;
        p++; /* the delimiter */
    }
}

/* Reads one record: 1, 0 at the end of the file, or an error. *line_out: its first line. */
static int csv_record(struct csvsrc *s, int64_t *line_out, struct px_error *err)
{
    s->nf = 0;
    int rc;
    /* Blank lines are skipped. */
    for (;;) {
        if (s->pos == s->len && (rc = csv_fill(s, err)) <= 0)
            return rc;
        char c = s->buf[s->pos];
        if (c != '\n' && c != '\r')
            break;
        s->pos++;
        if (c == '\r') {
            if (s->pos == s->len && (rc = csv_fill(s, err)) < 0)
                return rc;
            if (s->pos < s->len && s->buf[s->pos] == '\n')
                s->pos++;
        }
        s->line++;
    }
    int64_t start_line = s->line;
    *line_out = start_line;
    /* Find the end: the first CR or LF outside quotes (quote parity; the split reports the
     * errors), or the end of the file. */
    size_t i = s->pos, end;
    bool inq = false, quotes = false;
    for (;;) {
        while (i < s->len) {
            char *p = s->buf + i;
            size_t n = s->len - i;
            if (inq) {
                char *q = memchr(p, '"', n);
                if (!q) {
                    i = s->len;
                    break;
                }
                inq = false;
                i = (size_t)(q - s->buf) + 1;
                continue;
            }
            char *nl = memchr(p, '\n', n);
            size_t lim = nl ? (size_t)(nl - p) : n;
            char *q = memchr(p, '"', lim);
            if (q)
                lim = (size_t)(q - p);
            char *cr = memchr(p, '\r', lim);
            if (cr) {
                i = (size_t)(cr - s->buf);
                goto found;
            }
            if (q) {
                quotes = inq = true;
                i = (size_t)(q - s->buf) + 1;
                continue;
            }
            if (nl) {
                i = (size_t)(nl - s->buf);
                goto found;
            }
            i = s->len;
        }
        if (i - s->pos > CSV_RAW_MAX)
            return px_error_set(err, PX_ETOOLARGE, "line %lld: record longer than %u bytes",
                                (long long)start_line, MAX_LINE);
        size_t off = i - s->pos;
        if ((rc = csv_fill(s, err)) < 0)
            return rc;
        i = s->pos + off;
        if (rc == 0)
            break; /* the record ends at the end of the file */
    }
found:
    end = i;
    /* A CR at the end of the buffer may be the first half of CRLF. */
    if (end < s->len && s->buf[end] == '\r' && end + 1 == s->len) {
        size_t off = end - s->pos;
        if ((rc = csv_fill(s, err)) < 0)
            return rc;
        end = s->pos + off;
    }
    char term = end < s->len ? s->buf[end] : '\0';
    size_t next = end;
    if (term == '\r')
        next += end + 1 < s->len && s->buf[end + 1] == '\n' ? 2 : 1;
    else if (term == '\n')
        next += 1;
    if (quotes) {
        rc = csv_split_quoted(s, end, start_line, err);
        if (rc < 0)
            return rc;
    } else {
        char *p = s->buf + s->pos, *e = s->buf + end;
        for (;;) {
            char *d = memchr(p, s->delim, (size_t)(e - p));
            csv_add_field(s, p, (size_t)((d ? d : e) - p), false);
            if (!d)
                break;
            p = d + 1;
        }
    }
    size_t total = 0;
    for (size_t k = 0; k < s->nf; k++)
        total += s->flen[k] + 1;
    if (total > MAX_LINE)
        return px_error_set(err, PX_ETOOLARGE, "line %lld: record longer than %u bytes",
                            (long long)start_line, MAX_LINE);
    if (term)
        s->line++;
    s->pos = next;
    return 1;
}

static void *csv_reader(void *arg);

static int csvsrc_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    char path[PATH_MAX];
    int rc = px__files_resolve(ctx, path, sizeof(path), err);
    if (rc < 0)
        return rc;
    struct csvsrc *s = px_xcalloc(1, sizeof(*s));
    const char *d = px_json_get_str(ctx->params, "delimiter");
    s->delim = d && *d ? d[0] : ',';
    s->line = 1;
    s->batch_rows = ctx->batch_rows;
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        rc = px_error_set(err, errno == ENOENT ? PX_ENOTFOUND : PX_EIO, "cannot open '%s': %s",
                          px_json_get_str(ctx->config, "file")
                              ? px_json_get_str(ctx->config, "file")
                              : px_json_get_str(ctx->params, "path"),
                          strerror(errno));
        csvsrc_close(s);
        return rc;
    }
    (void)posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    int64_t line;
    rc = csv_record(s, &line, err);
    if (rc < 0) {
        csvsrc_close(s);
        return rc;
    }
    if (rc == 0) {
        s->eof = true;
    } else {
        bool header = px_json_get_bool(ctx->params, "header", true);
        s->ncols = (int)s->nf;
        s->names = px_xcalloc(s->nf, sizeof(char *));
        for (size_t i = 0; i < s->nf; i++) {
            char name[32];
            snprintf(name, sizeof(name), "column%zu", i + 1);
            s->names[i] = px_xstrdup(header ? s->fv[i] : name);
            if (header && !s->names[i][0]) {
                free(s->names[i]);
                s->names[i] = px_xstrdup(name);
            }
        }
        if (!header) {
            /* Re-read from the start: the first line was data. */
            if (lseek(s->fd, 0, SEEK_SET) < 0) {
                rc = px_error_set(err, PX_EIO, "cannot rewind: %s", strerror(errno));
                csvsrc_close(s);
                return rc;
            }
            s->pos = s->len = 0;
            s->at_eof = false;
            s->line = 1;
        }
    }
    if (!s->eof && pthread_mutex_init(&s->mu, NULL) == 0) {
        if (pthread_cond_init(&s->cv, NULL) != 0)
            pthread_mutex_destroy(&s->mu);
        else if (pthread_create(&s->thread, NULL, csv_reader, s) != 0) {
            pthread_cond_destroy(&s->cv);
            pthread_mutex_destroy(&s->mu);
        } else
            s->threaded = true;
    }
    *state_out = s;
    return 0;
}

static int csv_type_error(struct csvsrc *s, struct px_batch *b, int i, int64_t line, const char *v,
                          struct px_error *err)
{
    return px_error_set(err, PX_EINVALID,
                        "line %lld: column '%s': '%.64s' is not a valid %s (the type was "
                        "inferred from the first %lld rows)",
                        (long long)line, s->names[i], v, px_col_type_name(b->cols[i].type),
                        (long long)s->batch_rows);
}

static int csv_produce(struct csvsrc *s, struct px_batch **out, struct px_error *err)
{
    *out = NULL;
    if (s->eof)
        return 0;
    /* The first batch is read as text, its column types inferred, then converted; later
     * batches are converted as they are read. A value that does not fit its column is reported
     * only if the rest of the batch reads without a syntax error (as if the whole batch were
     * read first). */
    bool typed = s->types != NULL;
    struct px_batch *b = px_batch_create(s->batch_rows);
    int64_t *lines = typed ? NULL : px_xcalloc((size_t)s->batch_rows, sizeof(int64_t));
    for (int i = 0; i < s->ncols; i++)
        px_batch_add_column(b, s->names[i], typed ? (enum px_col_type)s->types[i] : PX_COL_STRING);
    int rc = 0;
    bool type_err = false;
    struct px_error terr;
    while (b->nrows < s->batch_rows) {
        int64_t line = 0;
        rc = csv_record(s, &line, err);
        if (rc <= 0) {
            if (rc == 0)
                s->eof = true;
            break;
        }
        if ((int)s->nf != s->ncols) {
            rc = px_error_set(err, PX_EINVALID, "line %lld: expected %d fields, found %zu",
                              (long long)line, s->ncols, s->nf);
            break;
        }
        int64_t r = b->nrows++;
        if (!typed) {
            lines[r] = line;
            for (int i = 0; i < s->ncols; i++)
                if (s->flen[i] || s->fquoted[i])
                    set_text_len(b, i, r, s->fv[i], s->flen[i]);
            continue;
        }
        if (type_err)
            continue;
        for (int i = 0; i < s->ncols; i++) {
            const char *v = s->fv[i];
            if (!s->flen[i] && !s->fquoted[i])
                continue;
            if (b->cols[i].type == PX_COL_STRING && !*v) {
                b->cols[i].v.s[r] = "";
                px_batch_set_null(&b->cols[i], r, false);
            } else if (set_text_len(b, i, r, v, s->flen[i]) < 0) {
                csv_type_error(s, b, i, line, v, &terr);
                type_err = true;
                break;
            }
        }
    }
    if (rc >= 0 && type_err) {
        *err = terr;
        rc = -PX_EINVALID;
    }
    if (rc >= 0 && !typed) {
        s->types = px_xcalloc((size_t)s->ncols, sizeof(int));
        for (int i = 0; i < s->ncols; i++) {
            int t = K_UNKNOWN;
            for (int64_t r = 0; r < b->nrows; r++)
                if (!px_batch_is_null(&b->cols[i], r))
                    t = (int)px__infer_merge(t, b->cols[i].v.s[r]);
            s->types[i] = t < 0 ? PX_COL_STRING : t;
        }
        /* Convert the text batch. */
        struct px_batch *raw = b;
        b = px_batch_create(s->batch_rows);
        for (int i = 0; i < s->ncols; i++)
            px_batch_add_column(b, s->names[i], (enum px_col_type)s->types[i]);
        for (int64_t r = 0; r < raw->nrows && rc >= 0; r++)
            for (int i = 0; i < s->ncols; i++) {
                if (px_batch_is_null(&raw->cols[i], r))
                    continue;
                const char *v = raw->cols[i].v.s[r];
                if (b->cols[i].type == PX_COL_STRING && !*v) {
                    b->cols[i].v.s[r] = "";
                    px_batch_set_null(&b->cols[i], r, false);
                } else if (set_text_len(b, i, r, v, strlen(v)) < 0) {
                    rc = csv_type_error(s, b, i, lines[r], v, err);
                    break;
                }
            }
        b->nrows = raw->nrows;
        px_batch_destroy(raw);
    }
    free(lines);
    if (rc < 0 || b->nrows == 0) {
        px_batch_destroy(b);
        return rc < 0 ? rc : 0;
    }
    b->first_row = s->rownum + 1;
    s->rownum += b->nrows;
    *out = b;
    return 0;
}

static void *csv_reader(void *arg)
{
    struct csvsrc *s = arg;
    for (;;) {
        struct px_batch *b = NULL;
        struct px_error e;
        px_error_clear(&e);
        int rc = csv_produce(s, &b, &e);
        pthread_mutex_lock(&s->mu);
        while (b && s->qcount == CSV_QUEUE && !s->qstop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->qstop) {
            pthread_mutex_unlock(&s->mu);
            px_batch_destroy(b);
            return NULL;
        }
        if (!b) {
            s->qdone = true;
            s->qrc = rc;
            s->qerr = e;
        } else {
            s->queue[(s->qhead + s->qcount) % CSV_QUEUE] = b;
            s->qcount++;
        }
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        if (!b)
            return NULL;
    }
}

static int csvsrc_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct csvsrc *s = state;
    if (!s->threaded)
        return csv_produce(s, out, err);
    *out = NULL;
    pthread_mutex_lock(&s->mu);
    while (s->qcount == 0 && !s->qdone)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = 0;
    if (s->qcount > 0) {
        *out = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % CSV_QUEUE;
        s->qcount--;
        pthread_cond_broadcast(&s->cv);
    } else if (s->qrc < 0) {
        rc = s->qrc;
        *err = s->qerr;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- JSONL source ---- */

struct jsonlsrc {
    FILE *f;
    int64_t line;
    int64_t rownum;
    struct px_buf buf;
    char **names;
    int *types;
    int ncols;
    bool typed;
    int64_t batch_rows;
    struct json_tokener *tok;
};

static void jsonlsrc_close(void *state)
{
    struct jsonlsrc *s = state;
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    px_buf_cleanup(&s->buf);
    for (int i = 0; i < s->ncols; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    if (s->tok)
        json_tokener_free(s->tok);
    free(s);
}

static int jsonlsrc_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    char path[PATH_MAX];
    int rc = px__files_resolve(ctx, path, sizeof(path), err);
    if (rc < 0)
        return rc;
    struct jsonlsrc *s = px_xcalloc(1, sizeof(*s));
    s->batch_rows = ctx->batch_rows;
    px_buf_init(&s->buf, MAX_LINE);
    s->tok = json_tokener_new_ex(64);
    s->f = fopen(path, "rb");
    if (!s->f) {
        rc = px_error_set(err, errno == ENOENT ? PX_ENOTFOUND : PX_EIO, "cannot open file: %s",
                          strerror(errno));
        jsonlsrc_close(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

/* Reads one non-blank line into s->buf: 1, 0 at the end, or an error. */
static int jsonl_line(struct jsonlsrc *s, struct px_error *err)
{
    for (;;) {
        px_buf_reset(&s->buf);
        int c;
        bool any = false;
        while ((c = getc(s->f)) != EOF && c != '\n') {
            char ch = (char)c;
            any = true;
            if (px_buf_append(&s->buf, &ch, 1) < 0)
                return px_error_set(err, PX_ETOOLARGE, "line %lld: longer than %u bytes",
                                    (long long)s->line + 1, MAX_LINE);
        }
        if (c == EOF && !any)
            return 0;
        s->line++;
        if (s->buf.len && s->buf.data[s->buf.len - 1] == '\r')
            s->buf.data[--s->buf.len] = '\0';
        if (s->buf.len && strspn(s->buf.data, " \t") != s->buf.len)
            return 1;
    }
}

static int json_kind(struct json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return K_UNKNOWN;
    case json_type_boolean:
        return PX_COL_BOOL;
    case json_type_int:
        return PX_COL_INT;
    case json_type_double:
        return PX_COL_FLOAT;
    default:
        return PX_COL_STRING;
    }
}

static int jsonl_set(struct px_batch *b, int col, int64_t row, struct json_object *v)
{
    struct px_column *c = &b->cols[col];
    int k = json_kind(v);
    if (k == K_UNKNOWN)
        return 0;
    switch (c->type) {
    case PX_COL_INT:
        if (k != PX_COL_INT)
            return -PX_EINVALID;
        c->v.i[row] = json_object_get_int64(v);
        break;
    case PX_COL_FLOAT:
        if (k != PX_COL_INT && k != PX_COL_FLOAT)
            return -PX_EINVALID;
        c->v.f[row] = json_object_get_double(v);
        break;
    case PX_COL_BOOL:
        if (k != PX_COL_BOOL)
            return -PX_EINVALID;
        c->v.b[row] = json_object_get_boolean(v);
        break;
    case PX_COL_TIMESTAMP:
        return -PX_EINVALID;
    case PX_COL_STRING: {
        const char *t = json_object_is_type(v, json_type_string)
                            ? json_object_get_string(v)
                            : json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        c->v.s[row] = px_batch_strdup(b, t, strlen(t));
        break;
    }
    }
    px_batch_set_null(c, row, false);
    return 0;
}

static int jsonlsrc_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct jsonlsrc *s = state;
    *out = NULL;
    struct json_object **objs = px_xcalloc((size_t)s->batch_rows, sizeof(*objs));
    int64_t *lines = px_xcalloc((size_t)s->batch_rows, sizeof(int64_t));
    int64_t n = 0;
    int rc = 0;
    while (n < s->batch_rows) {
        rc = jsonl_line(s, err);
        if (rc <= 0)
            break;
        json_tokener_reset(s->tok);
        struct json_object *o = json_tokener_parse_ex(s->tok, s->buf.data, (int)s->buf.len);
        enum json_tokener_error je = json_tokener_get_error(s->tok);
        if (!o || je != json_tokener_success || json_tokener_get_parse_end(s->tok) != s->buf.len) {
            json_object_put(o);
            rc = px_error_set(
                err, PX_EINVALID, "line %lld: not valid JSON (%s)", (long long)s->line,
                je == json_tokener_success ? "trailing data" : json_tokener_error_desc(je));
            break;
        }
        if (!json_object_is_type(o, json_type_object)) {
            json_object_put(o);
            rc = px_error_set(err, PX_EINVALID, "line %lld: not a JSON object", (long long)s->line);
            break;
        }
        lines[n] = s->line;
        objs[n++] = o;
    }
    if (rc >= 0 && !s->typed && n > 0) {
        s->typed = true;
        for (int64_t r = 0; r < n; r++) {
            json_object_object_foreach(objs[r], key, val)
            {
                int i;
                for (i = 0; i < s->ncols; i++)
                    if (strcmp(s->names[i], key) == 0)
                        break;
                if (i == s->ncols) {
                    if (s->ncols >= PX_BATCH_MAX_COLS) {
                        rc =
                            px_error_set(err, PX_ETOOLARGE, "more than %d keys", PX_BATCH_MAX_COLS);
                        break;
                    }
                    s->names = px_xrealloc(s->names, (size_t)(s->ncols + 1) * sizeof(char *));
                    s->types = px_xrealloc(s->types, (size_t)(s->ncols + 1) * sizeof(int));
                    s->names[i] = px_xstrdup(key);
                    s->types[i] = K_UNKNOWN;
                    s->ncols++;
                }
                int k = json_kind(val);
                int *t = &s->types[i];
                if (k == K_UNKNOWN || *t == k)
                    continue;
                if (*t == K_UNKNOWN)
                    *t = k;
                else if ((*t == PX_COL_INT && k == PX_COL_FLOAT) ||
                         (*t == PX_COL_FLOAT && k == PX_COL_INT))
                    *t = PX_COL_FLOAT;
                else
                    *t = PX_COL_STRING;
            }
        }
        for (int i = 0; i < s->ncols; i++)
            if (s->types[i] == K_UNKNOWN)
                s->types[i] = PX_COL_STRING;
    }
    struct px_batch *b = NULL;
    if (rc >= 0 && n > 0) {
        b = px_batch_create(s->batch_rows);
        b->first_row = s->rownum + 1;
        for (int i = 0; i < s->ncols; i++)
            px_batch_add_column(b, s->names[i], (enum px_col_type)s->types[i]);
        for (int64_t r = 0; r < n && rc >= 0; r++) {
            json_object_object_foreach(objs[r], key, val)
            {
                int i = px_batch_find(b, key);
                if (i < 0) {
                    rc = px_error_set(err, PX_EINVALID,
                                      "line %lld: key '%.64s' is not among the columns found in "
                                      "the first %lld records",
                                      (long long)lines[r], key, (long long)s->batch_rows);
                    break;
                }
                if (jsonl_set(b, i, r, val) < 0) {
                    rc = px_error_set(err, PX_EINVALID, "line %lld: key '%.64s' is not a %s",
                                      (long long)lines[r], key, px_col_type_name(b->cols[i].type));
                    break;
                }
            }
        }
        b->nrows = n;
        s->rownum += n;
    }
    for (int64_t r = 0; r < n; r++)
        json_object_put(objs[r]);
    free(objs);
    free(lines);
    if (rc < 0) {
        px_batch_destroy(b);
        return rc;
    }
    *out = b;
    return 0;
}

/* ---- file destinations (CSV and JSONL) ---- */

enum fmt { FMT_CSV, FMT_JSONL };

struct filedst {
    enum fmt fmt;
    int fd;
    char path[PATH_MAX];
    char tmp[PATH_MAX + 32];
    bool replace, committed, header, wrote_header;
    off_t orig_size;
    char delim;
    struct px_buf out;
};

static int filedst_open(const struct px_node_ctx *ctx, enum fmt fmt, void **state_out,
                        struct px_error *err)
{
    struct filedst *s = px_xcalloc(1, sizeof(*s));
    s->fd = -1;
    s->fmt = fmt;
    int rc = px__files_resolve(ctx, s->path, sizeof(s->path), err);
    if (rc < 0) {
        free(s);
        return rc;
    }
    const char *mode = px_json_get_str(ctx->config, "mode");
    s->replace = mode && strcmp(mode, "replace") == 0;
    const char *d = px_json_get_str(ctx->params, "delimiter");
    s->delim = d && *d ? d[0] : ',';
    s->header = fmt == FMT_CSV && px_json_get_bool(ctx->params, "header", true);
    px_buf_init(&s->out, (size_t)1 << 30);
    if (s->replace) {
        char *slash = strrchr(s->path, '/');
        snprintf(s->tmp, sizeof(s->tmp), "%.*s/.%s.px-XXXXXX", (int)(slash - s->path), s->path,
                 slash + 1);
        s->fd = mkstemp(s->tmp);
        if (s->fd >= 0)
            (void)fchmod(s->fd, 0644);
    } else {
        s->fd = open(s->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        struct stat st;
        if (s->fd >= 0 && fstat(s->fd, &st) == 0)
            s->orig_size = st.st_size;
        s->wrote_header = s->orig_size > 0;
    }
    if (s->fd < 0) {
        rc = px_error_set(err, PX_EIO, "cannot open the output file: %s", strerror(errno));
        s->tmp[0] = '\0';
        px_buf_cleanup(&s->out);
        free(s);
        return rc;
    }
    *state_out = s;
    return 0;
}

static int csvdst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return filedst_open(ctx, FMT_CSV, state_out, err);
}

static int jsonldst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return filedst_open(ctx, FMT_JSONL, state_out, err);
}

/* Appends a CSV field, quoted only when it must be (and "" for an empty string). */
static int csv_field(struct filedst *s, const char *v)
{
    const char *p = v;
    while (*p && *p != s->delim && *p != '"' && *p != '\r' && *p != '\n')
        p++;
    if (!*p && p != v)
        return px_buf_append(&s->out, v, (size_t)(p - v));
    p += strlen(p);
    size_t len = (size_t)(p - v);
    int rc = px_buf_append(&s->out, "\"", 1);
    const char *run = v;
    for (const char *q = memchr(v, '"', len); rc == 0 && q;
         q = memchr(q + 1, '"', len - (size_t)(q + 1 - v))) {
        rc = px_buf_append(&s->out, run, (size_t)(q + 1 - run)); /* through the quote */
        run = q;                                                 /* which is written again */
    }
    if (rc == 0)
        rc = px_buf_append(&s->out, run, (size_t)(p - run));
    return rc ? rc : px_buf_append(&s->out, "\"", 1);
}

static void json_string(struct px_buf *o, const char *v)
{
    (void)px_buf_puts(o, "\"");
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p == '"' || *p == '\\')
            (void)px_buf_printf(o, "\\%c", *p);
        else if (*p == '\n')
            (void)px_buf_puts(o, "\\n");
        else if (*p == '\r')
            (void)px_buf_puts(o, "\\r");
        else if (*p == '\t')
            (void)px_buf_puts(o, "\\t");
        else if (*p < 0x20)
            (void)px_buf_printf(o, "\\u%04x", *p);
        else
            (void)px_buf_append(o, p, 1);
    }
    (void)px_buf_puts(o, "\"");
}

/* Text of a non-NULL cell (not for strings); returns its length. size: at least 64. */
static size_t cell_text(const struct px_batch *b, int col, int64_t r, char *tmp, size_t size)
{
    const struct px_column *c = &b->cols[col];
    size_t n;
    switch (c->type) {
    case PX_COL_INT:
        return fmt_int(c->v.i[r], tmp);
    case PX_COL_FLOAT:
        px__format_double(c->v.f[r], tmp, size);
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

static int write_all(int fd, const char *p, size_t n, struct px_error *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return px_error_set(err, PX_EIO, "write failed: %s", strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int filedst_write(void *state, const struct px_batch *b, struct px_error *err)
{
    struct filedst *s = state;
    char tmp[64];
    px_buf_reset(&s->out);
    if (s->fmt == FMT_CSV && s->header && !s->wrote_header) {
        for (int i = 0; i < b->ncols; i++) {
            if (i)
                (void)px_buf_append(&s->out, &s->delim, 1);
            (void)csv_field(s, b->cols[i].name);
        }
        (void)px_buf_puts(&s->out, "\n");
        s->wrote_header = true;
    }
    for (int64_t r = 0; r < b->nrows; r++) {
        if (s->fmt == FMT_JSONL)
            (void)px_buf_puts(&s->out, "{");
        for (int i = 0; i < b->ncols; i++) {
            const struct px_column *c = &b->cols[i];
            bool null = px_batch_is_null(c, r);
            if (s->fmt == FMT_CSV) {
                if (i)
                    (void)px_buf_append(&s->out, &s->delim, 1);
                if (null)
                    continue;
                if (c->type == PX_COL_STRING) {
                    (void)csv_field(s, c->v.s[r]);
                } else {
                    size_t n = cell_text(b, i, r, tmp, sizeof(tmp));
                    (void)px_buf_append(&s->out, tmp, n);
                }
                continue;
            }
            if (i)
                (void)px_buf_puts(&s->out, ",");
            json_string(&s->out, c->name);
            (void)px_buf_puts(&s->out, ":");
            if (null || (c->type == PX_COL_FLOAT && !isfinite(c->v.f[r]))) {
                (void)px_buf_puts(&s->out, "null");
            } else if (c->type == PX_COL_STRING) {
                json_string(&s->out, c->v.s[r]);
            } else if (c->type == PX_COL_TIMESTAMP) {
                cell_text(b, i, r, tmp, sizeof(tmp));
                json_string(&s->out, tmp);
            } else {
                cell_text(b, i, r, tmp, sizeof(tmp));
                (void)px_buf_puts(&s->out, tmp);
            }
        }
        if (px_buf_puts(&s->out, s->fmt == FMT_JSONL ? "}\n" : "\n") < 0)
            return px_error_set(err, PX_ETOOLARGE, "a batch renders to more than 1 GiB");
    }
    return write_all(s->fd, s->out.data ? s->out.data : "", s->out.len, err);
}

static int filedst_commit(void *state, struct px_error *err)
{
    struct filedst *s = state;
    if (fsync(s->fd) < 0)
        return px_error_set(err, PX_EIO, "fsync failed: %s", strerror(errno));
    if (s->replace) {
        if (rename(s->tmp, s->path) < 0)
            return px_error_set(err, PX_EIO, "cannot replace the file: %s", strerror(errno));
        s->tmp[0] = '\0';
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", s->path);
        *strrchr(dir, '/') = '\0';
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
    }
    s->committed = true;
    return 0;
}

static void filedst_close(void *state)
{
    struct filedst *s = state;
    if (!s)
        return;
    if (!s->committed) {
        if (s->replace && s->tmp[0])
            (void)unlink(s->tmp);
        else if (!s->replace)
            (void)ftruncate(s->fd, s->orig_size);
    }
    close(s->fd);
    px_buf_cleanup(&s->out);
    free(s);
}

const struct px_connector px__conn_csv = {
    .version = 1,
    .name = "csv",
    .description = "RFC 4180 CSV files",
    .open_source = csvsrc_open,
    .next_batch = csvsrc_next,
    .close_source = csvsrc_close,
    .open_dest = csvdst_open,
    .write_batch = filedst_write,
    .commit = filedst_commit,
    .close_dest = filedst_close,
    .probe = px__probe_files,
    .dialect = PX_SQL_NONE,
};

const struct px_connector px__conn_jsonl = {
    .version = 1,
    .name = "jsonl",
    .description = "JSON Lines files",
    .open_source = jsonlsrc_open,
    .next_batch = jsonlsrc_next,
    .close_source = jsonlsrc_close,
    .open_dest = jsonldst_open,
    .write_batch = filedst_write,
    .commit = filedst_commit,
    .close_dest = filedst_close,
    .probe = px__probe_files,
    .dialect = PX_SQL_NONE,
};
