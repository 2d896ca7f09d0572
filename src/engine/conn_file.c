/*
 * What the file connectors share: the files-root confinement (also used by SQLite and the
 * probes, exec_int.h), value formatting, and the CSV / JSON Lines destinations. The sources
 * are conn_csv.c and conn_jsonl.c.
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
#include "engine/conn_file.h"
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

int px__csvdst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
{
    return filedst_open(ctx, FMT_CSV, state_out, err);
}

int px__jsonldst_open(const struct px_node_ctx *ctx, void **state_out, struct px_error *err)
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

int px__filedst_write(void *state, const struct px_batch *b, struct px_error *err)
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
            px_json_write_str(&s->out, c->name);
            (void)px_buf_puts(&s->out, ":");
            if (null || (c->type == PX_COL_FLOAT && !isfinite(c->v.f[r]))) {
                (void)px_buf_puts(&s->out, "null");
            } else if (c->type == PX_COL_STRING) {
                px_json_write_str(&s->out, c->v.s[r]);
            } else if (c->type == PX_COL_TIMESTAMP) {
                cell_text(b, i, r, tmp, sizeof(tmp));
                px_json_write_str(&s->out, tmp);
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

int px__filedst_commit(void *state, struct px_error *err)
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

void px__filedst_close(void *state)
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
