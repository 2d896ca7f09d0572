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

void px__format_double(double d, char *out, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    if (isfinite(d) && !strpbrk(out, ".eEn"))
        strncat(out, ".0", size - strlen(out) - 1);
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

/* ---- CSV source ---- */

struct csvsrc {
    FILE *f;
    char delim;
    int64_t line;   /* physical line of the next character */
    int64_t rownum; /* data rows read */
    struct px_buf rec;
    size_t *foff;
    bool *fquoted;
    size_t nf, fcap;
    char **names;
    int ncols;
    int *types; /* inferred, or NULL before the first batch */
    int64_t batch_rows;
    bool eof;
};

static void csvsrc_close(void *state)
{
    struct csvsrc *s = state;
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    px_buf_cleanup(&s->rec);
    free(s->foff);
    free(s->fquoted);
    for (int i = 0; i < s->ncols; i++)
        free(s->names[i]);
    free(s->names);
    free(s->types);
    free(s);
}

static int csv_put(struct csvsrc *s, int ch, int64_t line, struct px_error *err)
{
    char c = (char)ch;
    if (px_buf_append(&s->rec, &c, 1) < 0)
        return px_error_set(err, PX_ETOOLARGE, "line %lld: record longer than %u bytes",
                            (long long)line, MAX_LINE);
    return 0;
}

static void csv_end_field(struct csvsrc *s, size_t start, bool quoted)
{
    if (s->nf == s->fcap) {
        s->fcap = s->fcap ? s->fcap * 2 : 16;
        s->foff = px_xrealloc(s->foff, s->fcap * sizeof(size_t));
        s->fquoted = px_xrealloc(s->fquoted, s->fcap * sizeof(bool));
    }
    s->foff[s->nf] = start;
    s->fquoted[s->nf] = quoted;
    s->nf++;
    char nul = '\0';
    (void)px_buf_append(&s->rec, &nul, 1); /* the cap leaves room: checked by csv_put */
}

/* Reads one record: 1, 0 at the end of the file, or an error. *line_out: its first line. */
static int csv_record(struct csvsrc *s, int64_t *line_out, struct px_error *err)
{
    FILE *f = s->f;
    px_buf_reset(&s->rec);
    s->nf = 0;
    int c = getc(f);
    while (c == '\n' || c == '\r') { /* blank lines are skipped */
        if (c == '\r') {
            int c2 = getc(f);
            if (c2 != '\n' && c2 != EOF)
                ungetc(c2, f);
        }
        s->line++;
        c = getc(f);
    }
    if (c == EOF)
        return ferror(f) ? px_error_set(err, PX_EIO, "read error: %s", strerror(errno)) : 0;
    int64_t start_line = s->line;
    *line_out = start_line;
    for (;;) {
        size_t start = s->rec.len;
        bool quoted = false;
        int rc;
        if (c == '"') {
            quoted = true;
            for (;;) {
                c = getc(f);
                if (c == EOF)
                    return px_error_set(err, PX_EINVALID, "line %lld: unterminated quoted field",
                                        (long long)start_line);
                if (c == '"') {
                    c = getc(f);
                    if (c != '"')
                        break;
                } else if (c == '\n') {
                    s->line++;
                }
                if ((rc = csv_put(s, c, start_line, err)) < 0)
                    return rc;
            }
            if (c != s->delim && c != '\n' && c != '\r' && c != EOF)
                return px_error_set(err, PX_EINVALID,
                                    "line %lld: unexpected character after a closing quote "
                                    "(a quote inside a quoted field is written \"\")",
                                    (long long)s->line);
        } else {
            while (c != s->delim && c != '\n' && c != '\r' && c != EOF) {
                if (c == '"')
                    return px_error_set(err, PX_EINVALID,
                                        "line %lld: quote inside an unquoted field",
                                        (long long)s->line);
                if ((rc = csv_put(s, c, start_line, err)) < 0)
                    return rc;
                c = getc(f);
            }
        }
        if (s->rec.len + 1 > MAX_LINE)
            return px_error_set(err, PX_ETOOLARGE, "line %lld: record longer than %u bytes",
                                (long long)start_line, MAX_LINE);
        csv_end_field(s, start, quoted);
        if (c == s->delim) {
            c = getc(f);
            continue;
        }
        if (c == '\r') {
            int c2 = getc(f);
            if (c2 != '\n' && c2 != EOF)
                ungetc(c2, f);
        }
        if (c != EOF)
            s->line++;
        return 1;
    }
}

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
    px_buf_init(&s->rec, MAX_LINE + 1);
    s->f = fopen(path, "rb");
    if (!s->f) {
        rc = px_error_set(err, errno == ENOENT ? PX_ENOTFOUND : PX_EIO, "cannot open '%s': %s",
                          px_json_get_str(ctx->config, "file")
                              ? px_json_get_str(ctx->config, "file")
                              : px_json_get_str(ctx->params, "path"),
                          strerror(errno));
        csvsrc_close(s);
        return rc;
    }
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
            s->names[i] = px_xstrdup(header ? s->rec.data + s->foff[i] : name);
            if (header && !s->names[i][0]) {
                free(s->names[i]);
                s->names[i] = px_xstrdup(name);
            }
        }
        if (!header) {
            /* Re-read from the start: the first line was data. */
            rewind(s->f);
            s->line = 1;
        }
    }
    *state_out = s;
    return 0;
}

static int csvsrc_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct csvsrc *s = state;
    *out = NULL;
    if (s->eof)
        return 0;
    /* Raw text first (all strings), then typed. */
    struct px_batch *raw = px_batch_create(s->batch_rows);
    int64_t *lines = px_xcalloc((size_t)s->batch_rows, sizeof(int64_t));
    for (int i = 0; i < s->ncols; i++)
        px_batch_add_column(raw, s->names[i], PX_COL_STRING);
    int rc = 0;
    while (raw->nrows < s->batch_rows) {
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
        int64_t r = raw->nrows++;
        lines[r] = line;
        for (int i = 0; i < s->ncols; i++) {
            const char *v = s->rec.data + s->foff[i];
            if (*v || s->fquoted[i])
                set_text(raw, i, r, v);
        }
    }
    if (rc >= 0 && !s->types) {
        s->types = px_xcalloc((size_t)s->ncols, sizeof(int));
        for (int i = 0; i < s->ncols; i++) {
            int t = K_UNKNOWN;
            for (int64_t r = 0; r < raw->nrows; r++)
                if (!px_batch_is_null(&raw->cols[i], r))
                    t = (int)px__infer_merge(t, raw->cols[i].v.s[r]);
            s->types[i] = t < 0 ? PX_COL_STRING : t;
        }
    }
    struct px_batch *b = NULL;
    if (rc >= 0 && raw->nrows > 0) {
        b = px_batch_create(s->batch_rows);
        b->first_row = s->rownum + 1;
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
                } else if (set_text(b, i, r, v) < 0) {
                    rc = px_error_set(err, PX_EINVALID,
                                      "line %lld: column '%s': '%.64s' is not a valid %s (the "
                                      "type was inferred from the first %lld rows)",
                                      (long long)lines[r], s->names[i], v,
                                      px_col_type_name(b->cols[i].type), (long long)s->batch_rows);
                    break;
                }
            }
        b->nrows = raw->nrows;
        s->rownum += raw->nrows;
    }
    px_batch_destroy(raw);
    free(lines);
    if (rc < 0) {
        px_batch_destroy(b);
        return rc;
    }
    *out = b;
    return 0;
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

static void csv_field(struct filedst *s, const char *v)
{
    bool quote = !*v || strchr(v, s->delim) || strpbrk(v, "\"\r\n");
    if (!quote) {
        (void)px_buf_puts(&s->out, v);
        return;
    }
    (void)px_buf_puts(&s->out, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            (void)px_buf_puts(&s->out, "\"");
        (void)px_buf_append(&s->out, p, 1);
    }
    (void)px_buf_puts(&s->out, "\"");
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

/* Text of a non-NULL cell (not for strings). */
static void cell_text(const struct px_batch *b, int col, int64_t r, char *tmp, size_t size)
{
    const struct px_column *c = &b->cols[col];
    switch (c->type) {
    case PX_COL_INT:
        snprintf(tmp, size, "%lld", (long long)c->v.i[r]);
        break;
    case PX_COL_FLOAT:
        px__format_double(c->v.f[r], tmp, size);
        break;
    case PX_COL_BOOL:
        snprintf(tmp, size, "%s", c->v.b[r] ? "true" : "false");
        break;
    case PX_COL_TIMESTAMP: {
        struct px_value v = {.type = PX_VAL_TIMESTAMP, .i = c->v.i[r]};
        struct px_buf t;
        px_buf_init(&t, 64);
        (void)px_value_render(&v, &t);
        snprintf(tmp, size, "%s", t.data ? t.data : "");
        px_buf_cleanup(&t);
        break;
    }
    case PX_COL_STRING:
        snprintf(tmp, size, "%s", c->v.s[r]);
        break;
    }
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
            csv_field(s, b->cols[i].name);
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
                    csv_field(s, c->v.s[r]);
                } else {
                    cell_text(b, i, r, tmp, sizeof(tmp));
                    (void)px_buf_puts(&s->out, tmp);
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
