/*
 * The CSV source (RFC 4180: header, delimiter, quoting; the destination is in
 * engine/connectors/file.c). Read in batches: column types are inferred from the first batch (the
 * narrowest of integer, float, boolean, timestamp, string that fits every non-empty value; an
 * integer with a leading zero stays a string); later batches must fit those types, else the run
 * fails naming the line. An empty unquoted field is NULL and "" an empty string.
 */
#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/budget.h"
#include "engine/connectors/file.h"
#include "engine/engine.h"
#include "engine/exec_int.h"
#include "engine/expr/expr.h"

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

/* Column-type inference: the narrowest of int, float, bool, timestamp, string that fits every
 * non-NULL value seen. */
static enum px_col_type infer_merge(int current, const char *s)
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
 * 2 * PX_FILE_MAX_LINE bytes (quotes doubled); its fields, unescaped and NUL-terminated,
 * PX_FILE_MAX_LINE. */
#define CSV_READ (1u << 20)
#define CSV_RAW_MAX (2u * PX_FILE_MAX_LINE + 2)
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
    int *types;         /* inferred, or NULL before the first batch */
    int64_t infer_rows; /* rows of the first batch, which the types come from */
    int64_t batch_rows;
    bool eof;
    struct px_mem *mem; /* the node's account: buf, and the batches queued */
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
    px_mem_sub(s->mem, (int64_t)s->cap);
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
        px_mem_add(s->mem, (int64_t)(s->len + CSV_READ + 1) - (int64_t)s->cap);
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
                                (long long)start_line, PX_FILE_MAX_LINE);
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
    if (total > PX_FILE_MAX_LINE)
        return px_error_set(err, PX_ETOOLARGE, "line %lld: record longer than %u bytes",
                            (long long)start_line, PX_FILE_MAX_LINE);
    if (term)
        s->line++;
    s->pos = next;
    return 1;
}

static void *csv_reader(void *arg);

static int csvsrc_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    struct px_file_target t;
    int rc = px__files_target(ctx, PX_FILE_SOURCE, "csv", &t, err);
    if (rc < 0)
        return rc;
    struct csvsrc *s = px_xcalloc(1, sizeof(*s));
    const char *d = px_json_get_str(ctx->params, "delimiter");
    s->delim = d && *d ? d[0] : ',';
    s->line = 1;
    s->batch_rows = ctx->batch_rows;
    s->mem = ctx->mem;
    px__filesrc_recover(&t);
    s->fd = px__files_open(&t, O_RDONLY, 0, err);
    px__files_target_close(&t);
    if (s->fd < 0) {
        rc = s->fd;
        s->fd = -1;
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
    if (rc == 1 && s->nf > PX_BATCH_MAX_COLS) {
        /* The cap every source enforces: a batch holds PX_BATCH_MAX_COLS columns at most. */
        rc = px_error_set(err, PX_EINVALID, "line %lld: %zu columns; at most %d are supported",
                          (long long)line, s->nf, PX_BATCH_MAX_COLS);
        px_error_hint(err, "split the file into narrower files, or keep only the columns the "
                           "pipeline needs");
        csvsrc_close(s);
        return rc;
    }
    if (rc == 0) {
        s->eof = true;
    } else {
        bool header = px_json_get_bool(ctx->params, "header", true);
        s->ncols = (int)s->nf;
        s->batch_rows = px_batch_rows_for(s->ncols, s->batch_rows);
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
                        (long long)s->infer_rows);
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
    while (!px_batch_full(b)) {
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
        s->infer_rows = b->nrows;
        s->types = px_xcalloc((size_t)s->ncols, sizeof(int));
        for (int i = 0; i < s->ncols; i++) {
            int t = K_UNKNOWN;
            for (int64_t r = 0; r < b->nrows; r++)
                if (!px_batch_is_null(&b->cols[i], r))
                    t = (int)infer_merge(t, b->cols[i].v.s[r]);
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
        /* Read ahead only while the run has room for another batch: with batches queued and
         * no room, wait for the consumer to take one (it always may: then the queue is empty
         * and reading goes on, so the run fails on its budget at the consumer, not here). */
        pthread_mutex_lock(&s->mu);
        while (s->qcount > 0 && !s->qstop && !px_mem_room(s->mem, PX_BATCH_TARGET_BYTES))
            pthread_cond_wait(&s->cv, &s->mu);
        bool stop = s->qstop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            return NULL;
        struct px_batch *b = NULL;
        struct px_error e;
        px_error_clear(&e);
        int rc = csv_produce(s, &b, &e);
        if (b)
            px_batch_account(b, s->mem); /* queued batches count against the budget */
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

const struct px_connector px__conn_csv = {
    .version = 1,
    .name = "csv",
    .description = "RFC 4180 CSV files",
    .open_source = csvsrc_open,
    .next_batch = csvsrc_next,
    .close_source = csvsrc_close,
    .open_dest = px__csvdst_open,
    .write_batch = px__filedst_write,
    .commit = px__filedst_commit,
    .close_dest = px__filedst_close,
    .probe = px__probe_files,
    .dialect = PX_SQL_NONE,
    .describe = px__csv_describe,
};
