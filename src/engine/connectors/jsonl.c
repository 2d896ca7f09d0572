/*
 * The JSON Lines source (the destination is in engine/connectors/file.c): one JSON object per line,
 * read in batches. Column types come from the first batch's values as engine/jsonval.h types them
 * (integer + float → float, RFC 3339 date-times → timestamp, objects/arrays and mixed types →
 * string); later batches must fit those types, else the run fails naming the line.
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
#include "engine/jsonval.h"

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
    struct px_mem *mem; /* the node's account: the line buffer and a batch's parsed lines */
};

static void jsonlsrc_close(void *state)
{
    struct jsonlsrc *s = state;
    if (!s)
        return;
    if (s->f)
        fclose(s->f);
    px_mem_sub(s->mem, PX_FILE_MAX_LINE);
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
    struct px_file_target t;
    int rc = px__files_target(ctx, PX_FILE_SOURCE, "jsonl", &t, err);
    if (rc < 0)
        return rc;
    px__filesrc_recover(&t);
    int fd = px__files_open(&t, O_RDONLY, 0, err);
    px__files_target_close(&t);
    if (fd < 0)
        return fd;
    struct jsonlsrc *s = px_xcalloc(1, sizeof(*s));
    s->batch_rows = ctx->batch_rows;
    s->mem = ctx->mem;
    px_mem_add(s->mem, PX_FILE_MAX_LINE); /* the line buffer, at its largest */
    px_buf_init(&s->buf, PX_FILE_MAX_LINE);
    s->tok = json_tokener_new_ex(64);
    s->f = fdopen(fd, "rb");
    if (!s->f) {
        rc = px_error_set(err, PX_EIO, "cannot read the file: %s", strerror(errno));
        close(fd);
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
                                    (long long)s->line + 1, PX_FILE_MAX_LINE);
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

static int jsonlsrc_next(void *state, struct px_batch **out, struct px_error *err)
{
    struct jsonlsrc *s = state;
    *out = NULL;
    struct json_object **objs = px_xcalloc((size_t)s->batch_rows, sizeof(*objs));
    int64_t *lines = px_xcalloc((size_t)s->batch_rows, sizeof(int64_t));
    int64_t n = 0;
    int rc = 0;
    /* The parsed lines' DOM (estimated from the text, px_json_cost) is reserved before json-c
     * builds it, and ends the batch early once it passes PX_BATCH_TARGET_BYTES. */
    int64_t dom = 0;
    while (n < s->batch_rows && dom < PX_BATCH_TARGET_BYTES) {
        rc = jsonl_line(s, err);
        if (rc <= 0)
            break;
        struct px_json_cost cost = {0};
        px__json_cost_feed(&cost, s->buf.data, s->buf.len);
        if ((rc = px_mem_reserve(s->mem, cost.cost, "parsed JSON lines", err)) < 0) {
            char msg[sizeof(err->message)];
            snprintf(msg, sizeof(msg), "line %lld: %.480s", (long long)s->line, err->message);
            snprintf(err->message, sizeof(err->message), "%s", msg);
            break;
        }
        dom += cost.cost;
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
        struct px_json_cols c = {.names = s->names, .types = s->types, .n = s->ncols};
        for (int64_t r = 0; r < n && rc >= 0; r++)
            rc = px__json_cols_add(&c, objs[r], err);
        px__json_cols_done(&c);
        s->names = c.names;
        s->types = c.types;
        s->ncols = c.n;
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
                if (px__json_cell_set(b, i, r, val) < 0) {
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
    px_mem_sub(s->mem, dom);
    free(objs);
    free(lines);
    if (rc < 0) {
        px_batch_destroy(b);
        return rc;
    }
    *out = b;
    return 0;
}

const struct px_connector px__conn_jsonl = {
    .version = 1,
    .name = "jsonl",
    .description = "JSON Lines files",
    .open_source = jsonlsrc_open,
    .next_batch = jsonlsrc_next,
    .close_source = jsonlsrc_close,
    .open_dest = px__jsonldst_open,
    .write_batch = px__filedst_write,
    .commit = px__filedst_commit,
    .close_dest = px__filedst_close,
    .probe = px__probe_files,
    .dialect = PX_SQL_NONE,
    .describe = px__jsonl_describe,
};
