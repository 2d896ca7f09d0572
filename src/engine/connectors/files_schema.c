/*
 * The describe callbacks of the CSV and JSON Lines connectors (engine/schema.h). The
 * connection's path is resolved as runs resolve it (px__files_target, beneath the files
 * directory, no links): a file is described alone; a directory lists its regular files with
 * the connector's extensions (csv: .csv .tsv .txt; jsonl: .jsonl .ndjson; hidden and side
 * files skipped; one level, no subdirectories), sorted by name. Each file is read through the
 * connector's own source (open_source/next_batch, the batch size a run uses), so its columns
 * get exactly the types a run gives them; the first batch is always read, then the first
 * PX_DESCRIBE_SAMPLE_ROWS rows within the description's time (distinct values of string
 * columns), and the rest only within the sampling window, which all files share, to count
 * the records (row_estimate, null when the window ended first). A file the source refuses gets
 * "error" {code, message} in its entry instead of failing the whole description.
 */
#include "base/err.h"
#include "base/json.h"
#include "base/mem.h"
#include "engine/batch.h"
#include "engine/connectors/describe.h"
#include "engine/connectors/file.h"
#include "engine/connectors/fsroot.h"
#include "engine/exec_int.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_COLS_SEEN 1000

static bool has_ext(const char *name, const char *const *exts)
{
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return false;
    for (; *exts; exts++)
        if (strcasecmp(dot + 1, *exts) == 0)
            return true;
    return false;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of the directory dirfd the connector reads, sorted; *n of them (owned). */
static char **list_files(int dirfd, const char *const *exts, int *n)
{
    *n = 0;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char **names = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && *n < 200000) {
        if (e->d_name[0] == '.' || px_fsroot_is_side_file(e->d_name) || !has_ext(e->d_name, exts))
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            names = px_xrealloc(names, (size_t)cap * sizeof(*names));
        }
        names[(*n)++] = px_xstrdup(e->d_name);
    }
    closedir(dir);
    if (*n)
        qsort(names, (size_t)*n, sizeof(*names), cmp_name);
    return names;
}

struct colstate {
    struct json_object *col; /* borrowed; NULL when not in the document */
    bool nulls;
    bool sampling;
    struct px_desc_values vs;
};

/* Describes one file into table t: file is config.file (NULL: the path names the file). */
static void describe_file(const struct px_connector *c, const struct px_node_ctx *ctx,
                          struct px_desc *d, struct json_object *t, const char *file)
{
    struct json_object *config = json_object_new_object();
    if (file)
        px_json_set_str(config, "file", file);
    struct px_node_ctx fc = *ctx;
    fc.config = config;
    void *st = NULL;
    struct px_error e;
    px_error_clear(&e);
    struct px_batch *b = NULL;
    struct colstate *cs = NULL;
    int ncols = 0;
    int64_t rows = 0;
    bool eof = false;
    int rc = c->open_source(&fc, &st, &e);
    if (rc == 0)
        rc = c->next_batch(st, &b, &e);
    if (rc == 0 && b) {
        ncols = b->ncols < MAX_COLS_SEEN ? b->ncols : MAX_COLS_SEEN;
        cs = px_xcalloc((size_t)ncols + 1, sizeof(*cs));
        for (int i = 0; i < ncols; i++) {
            cs[i].col = px__desc_column(d, t, b->cols[i].name, b->cols[i].type, NULL, true);
            cs[i].sampling = cs[i].col && b->cols[i].type == PX_COL_STRING && !d->o.no_sampling;
            px__desc_values_init(&cs[i].vs, d);
        }
    }
    /* The first batch always, more while the time caps allow. */
    while (rc == 0 && b) {
        for (int i = 0; i < ncols && i < b->ncols; i++) {
            struct px_column *col = &b->cols[i];
            for (int64_t r = 0; r < b->nrows; r++) {
                if (px_batch_is_null(col, r)) {
                    cs[i].nulls = true;
                    continue;
                }
                if (cs[i].sampling && rows + r < PX_DESCRIBE_SAMPLE_ROWS &&
                    col->type == PX_COL_STRING && !cs[i].vs.over)
                    (void)px__desc_values_add(&cs[i].vs, col->v.s[r], strlen(col->v.s[r]));
            }
        }
        rows += b->nrows;
        px_batch_destroy(b);
        b = NULL;
        /* The first PX_DESCRIBE_SAMPLE_ROWS rows within the description's time (values); the
         * rest only within the sampling window (the count). */
        if (px__desc_left_ms(d, false) <= 0 ||
            (rows >= PX_DESCRIBE_SAMPLE_ROWS && px__desc_left_ms(d, true) <= 0))
            break;
        rc = c->next_batch(st, &b, &e);
        if (rc == 0 && !b)
            eof = true;
    }
    if (rc == 0 && !cs && !b)
        eof = true; /* an empty file */
    px_batch_destroy(b);
    if (st)
        c->close_source(st);
    for (int i = 0; i < ncols; i++) {
        if (cs[i].col)
            px_json_set_bool(cs[i].col, "nullable", cs[i].nulls || !eof);
        if (cs[i].sampling && (rows >= PX_DESCRIBE_SAMPLE_ROWS || eof))
            px__desc_values_set(d, cs[i].col, &cs[i].vs);
        else
            px__desc_values_cleanup(&cs[i].vs);
        if (cs[i].sampling && rows < PX_DESCRIBE_SAMPLE_ROWS && !eof)
            d->sampled = false;
    }
    free(cs);
    px__desc_rows(t, eof && rc == 0 ? rows : -1);
    if (rc < 0) {
        struct json_object *ej = json_object_new_object();
        px_json_set_str(ej, "code", px_err_name(e.code));
        px_json_set_str(ej, "message", e.message);
        px_json_set(t, "error", ej);
    }
    json_object_put(config);
}

static int describe_files(const struct px_connector *c, const char *ext, const char *const *exts,
                          const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err)
{
    struct px_file_target t;
    int rc = px__files_target(ctx, PX_FILE_PROBE_SOURCE, ext, &t, err);
    if (rc < 0)
        return rc;
    px__desc_sample_start(d);
    if (t.name[0]) { /* the path names one file: it must open */
        struct json_object *config = json_object_new_object();
        struct px_node_ctx fc = *ctx;
        fc.config = config;
        void *st = NULL;
        rc = c->open_source(&fc, &st, err);
        if (st)
            c->close_source(st);
        json_object_put(config);
        if (rc == 0) {
            d->table_count = 1;
            struct json_object *tj = px__desc_table(d, NULL, t.name, "file");
            if (tj)
                describe_file(c, ctx, d, tj, NULL);
        }
        px__files_target_close(&t);
        return rc;
    }
    int n = 0;
    char **names = list_files(t.dirfd, exts, &n);
    d->table_count = n;
    for (int i = 0; i < n; i++) {
        if (i >= d->o.max_tables)
            break;
        if (px__desc_left_ms(d, false) <= 0) {
            px__desc_truncated(d, "time");
            d->sampled = false;
            break;
        }
        struct json_object *tj = px__desc_table(d, NULL, names[i], "file");
        if (!tj)
            break;
        describe_file(c, ctx, d, tj, names[i]);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    px__files_target_close(&t);
    return 0;
}

int px__csv_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err)
{
    static const char *const exts[] = {"csv", "tsv", "txt", NULL};
    return describe_files(&px__conn_csv, "csv", exts, ctx, d, err);
}

int px__jsonl_describe(const struct px_node_ctx *ctx, struct px_desc *d, struct px_error *err)
{
    static const char *const exts[] = {"jsonl", "ndjson", NULL};
    return describe_files(&px__conn_jsonl, "jsonl", exts, ctx, d, err);
}
